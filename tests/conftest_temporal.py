"""Pytest plugin: a real Temporal dev server for the session (see tests/temporal_server.py).

Fixtures:

- `temporal_server` (session): the frontend address `"127.0.0.1:PORT"` of a dev server started
  for this session on free loopback ports, in-memory store, namespace `default`; stopped (its
  process group terminated) when the session ends. Tests isolate themselves with a unique task
  queue and workflow ids (`unique_task_queue`). With pytest-xdist every worker process has its
  own session, hence its own server. `BATON_TEMPORAL_ADDRESS=HOST:PORT` uses an existing
  server instead of starting one.
- `temporal_dev_server` (session): the `TemporalDevServer` behind it (process, log, startup
  time); None when `BATON_TEMPORAL_ADDRESS` is set.
- `unique_task_queue` (function): a task queue name no other test uses.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# One module name for the helper however this plugin is loaded (`conftest_temporal` or
# `tests.conftest_temporal`): `temporal_server`, as pytest and benchmarks/temporal_dev.py
# import it. tests/ has no __init__.py, so pytest puts tests/ on sys.path anyway.
_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from temporal_server import TemporalDevServer, start_dev_server  # noqa: E402

ADDRESS_ENV = "BATON_TEMPORAL_ADDRESS"


@pytest.fixture(scope="session")
def temporal_dev_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TemporalDevServer | None]:
    if os.environ.get(ADDRESS_ENV):
        yield None
        return
    server = start_dev_server(tmp_path_factory.mktemp("temporal"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def temporal_server(temporal_dev_server: TemporalDevServer | None) -> str:
    if temporal_dev_server is None:
        return os.environ[ADDRESS_ENV]
    return temporal_dev_server.address


@pytest.fixture
def unique_task_queue(request: pytest.FixtureRequest) -> str:
    return f"{request.node.name[:60]}-{uuid.uuid4().hex[:12]}"
