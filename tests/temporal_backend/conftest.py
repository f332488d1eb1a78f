"""Fixtures of the Temporal backend tests: the dev server comes from tests/conftest_temporal.py
(one per pytest process); here, a worker in this process hosting every test workflow."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from tb_support import worker_in_thread  # noqa: E402

from baton.commands._load import load_spec  # noqa: E402
from baton.runtime import api  # noqa: E402
from baton.runtime.temporal.client import Target  # noqa: E402

ROOT = HERE.parent.parent
HAND_BUILT = (
    "FANOUT",
    "FALLBACK",
    "MAPPED",
    "MAPPED_WIDE",
    "REVIEW_LOOP",
    "REVIEW_LOOP_ESCALATED",
    "FAILING",
    "NOT_RETRIED",
    "MALFORMED",
    "TIMEOUTS",
    "HOG",
    "QUEUED",
    "REVIEWED",
    "PARENT",
    "SLOW",
    "WIDE",
    "DELEGATING",
    "DENIED",
    "BUDGETED",
)
SPECS = {
    "research_report": str(ROOT / "specs" / "research_report.yaml"),
    "summarize": str(ROOT / "specs" / "summarize.yaml"),
}


@pytest.fixture(scope="session")
def loaded_workflows() -> dict[str, api.LoadedWorkflow]:
    """Every workflow the in-process tests run, loaded once: the example specs and
    the hand-built ones (`tb_workflows:NAME`)."""
    found = {name: load_spec(path) for name, path in SPECS.items()}
    for attribute in HAND_BUILT:
        found[attribute] = load_spec(f"tb_workflows:{attribute}")
    for attribute in ("ROUTE", "ROUTE_STRICT"):  # routed steps (tb_routes.py)
        found[attribute] = load_spec(f"tb_routes:{attribute}")
    return found


@pytest.fixture(scope="module")
def worker(
    temporal_server: str, loaded_workflows: dict[str, api.LoadedWorkflow]
) -> Iterator[Target]:
    """A worker polling a task queue of this module's own, in a thread of this process."""
    queue = f"tb-{uuid.uuid4().hex[:12]}"
    with worker_in_thread(temporal_server, queue, list(loaded_workflows.values())) as target:
        yield target
