"""Differential, llm agents: the same workflow on both backends against the same fake
model server (tests/llm/fake_providers.py). The Temporal attempt activity calls the same
adapter, so a reply rejected by its schema is repaired the same way: the same requests
go over the wire (the repair conversation rebuilt from the log, the same idempotency
key), and the final states and per-step events agree."""

from __future__ import annotations

import importlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tb_support import normalized, per_step_events, run_local, run_temporal, worker_in_thread

from baton.commands._load import load_spec
from baton.runtime import api
from baton.runtime.temporal import client

TESTS = Path(__file__).resolve().parent.parent
for folder in ("llm", "llm_e2e"):
    if str(TESTS / folder) not in sys.path:
        sys.path.insert(0, str(TESTS / folder))

from fake_providers import API_KEY, KEY_VARIABLE, FakeProvider, model_answer  # noqa: E402

GOOD = {"summary": "Tides follow the moon.", "confidence": 0.8}
BAD = {"summary": 42, "confidence": 0.8}
INPUTS = {"topic": "tides", "channel": "hello"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    server = FakeProvider(expected_key=API_KEY).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def loaded(fake: FakeProvider) -> Iterator[api.LoadedWorkflow]:
    saved = {name: os.environ.get(name) for name in ("BATON_TEST_LLM_URL", KEY_VARIABLE)}
    os.environ["BATON_TEST_LLM_URL"] = fake.openai_base_url
    os.environ[KEY_VARIABLE] = API_KEY
    import llm_flows

    importlib.reload(llm_flows)  # its agent's URL is read at import
    try:
        yield load_spec("llm_flows:RESEARCH")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def worker(temporal_server: str, loaded: api.LoadedWorkflow) -> Iterator[client.Target]:
    queue = f"tb-llm-{uuid.uuid4().hex[:12]}"
    with worker_in_thread(temporal_server, queue, [loaded]) as target:
        yield target


def test_llm_repair_agrees_on_both_backends(
    tmp_path: Path, fake: FakeProvider, loaded: api.LoadedWorkflow, worker: client.Target
) -> None:
    run_id = f"llm-{uuid.uuid4().hex[:8]}"
    fake.script(model_answer("openai", BAD), model_answer("openai", GOOD))
    local, local_log = run_local(tmp_path / "baton.db", loaded, INPUTS, run_id, [])
    fake.script(model_answer("openai", BAD), model_answer("openai", GOOD))
    remote, remote_log = run_temporal(worker, loaded, INPUTS, run_id, [])

    assert local.status == remote.status == "succeeded"
    ours, theirs = normalized(local.to_json()), normalized(remote.to_json())
    ours.pop("last_seq"), theirs.pop("last_seq")
    assert theirs == ours
    assert per_step_events(remote_log) == per_step_events(local_log)
    # the same four requests, byte for byte: first try and repair, on each backend
    requests: list[Any] = [(r.headers["idempotency-key"], r.body) for r in fake.received[-4:]]
    assert requests[:2] == requests[2:]
    assert requests[0][1] != requests[1][1]  # the repair sent the reply and its errors
    assert remote.steps["research"].output == GOOD
    assert remote.steps["research"].usage.tokens_in > 0
