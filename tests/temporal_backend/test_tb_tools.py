"""Differential, tools of llm agents: the same tool loop on both backends against the
same scripted model and the same real MCP server (stdio). On Temporal the calls are
made inside the attempt's activity and recorded through the `baton_record` Update, as
delegations are: the same events, the same state, the same requests."""

from __future__ import annotations

import importlib
import json
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

from fake_providers import (  # noqa: E402
    API_KEY,
    KEY_VARIABLE,
    FakeProvider,
    model_answer,
    tool_calls_reply,
)

GOOD = {"summary": "Tides follow the moon.", "confidence": 0.8}
INPUTS = {"topic": "tides"}
SCRIPT = (
    tool_calls_reply(
        "openai",
        ("call_1", "calc", {"a": 2, "b": 3}),
        ("call_2", "ledger__record", {"note": "both backends"}),
    ),
    model_answer("openai", GOOD),
)


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
    import tool_flows

    importlib.reload(llm_flows)  # its agent's URL is read at import
    importlib.reload(tool_flows)
    try:
        yield load_spec("tool_flows:RESEARCH")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def approved(loaded: api.LoadedWorkflow) -> api.LoadedWorkflow:
    """The ledger needs role manager (alice) for each call (core.tool_approvals)."""
    return load_spec("tool_flows:APPROVED")


@pytest.fixture(scope="module")
def worker(
    temporal_server: str, loaded: api.LoadedWorkflow, approved: api.LoadedWorkflow
) -> Iterator[client.Target]:
    queue = f"tb-tools-{uuid.uuid4().hex[:12]}"
    with worker_in_thread(temporal_server, queue, [loaded, approved]) as target:
        yield target


def test_a_tool_loop_agrees_on_both_backends(
    tmp_path: Path,
    fake: FakeProvider,
    loaded: api.LoadedWorkflow,
    worker: client.Target,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # where the stdio server runs and keeps its ledger
    run_id = f"tools-{uuid.uuid4().hex[:8]}"
    fake.script(*SCRIPT)
    local, local_log = run_local(tmp_path / "baton.db", loaded, INPUTS, run_id, [])
    fake.script(*SCRIPT)
    remote, remote_log = run_temporal(worker, loaded, INPUTS, run_id, [])

    assert local.status == remote.status == "succeeded"
    ours, theirs = normalized(local.to_json()), normalized(remote.to_json())
    ours.pop("last_seq"), theirs.pop("last_seq")
    assert theirs == ours
    assert per_step_events(remote_log) == per_step_events(local_log)
    kinds = [e["type"] for e in remote_log]
    assert kinds.count("tool_call_started") == kinds.count("tool_call_completed") == 2
    requests: list[Any] = [r.body for r in fake.received[-4:]]
    assert requests[:2] == requests[2:]  # byte for byte the same conversation
    ledger = [json.loads(line) for line in (tmp_path / "ledger.txt").read_text().splitlines()]
    assert len(ledger) == 2  # once per backend, with the same key (the same run id)
    assert ledger[0]["key"] == ledger[1]["key"]
    assert remote.steps["research"].output == GOOD


def test_an_approved_tool_call_agrees_on_both_backends(
    tmp_path: Path,
    fake: FakeProvider,
    approved: api.LoadedWorkflow,
    worker: client.Target,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The attempt stops at the ledger call (`tool_approval_requested`), the workflow
    waits for the decision Update, then runs the attempt again (same number and key)
    and the granted call is made once: the same log and state as the local driver."""
    monkeypatch.chdir(tmp_path)
    run_id = f"approved-{uuid.uuid4().hex[:8]}"
    ask = tool_calls_reply("openai", ("call_1", "ledger__record", {"note": "approved"}))
    decisions: list[Any] = [("approve", "research", "alice")]
    fake.script(ask, ask, model_answer("openai", GOOD))
    local, local_log = run_local(tmp_path / "baton.db", approved, INPUTS, run_id, decisions)
    fake.script(ask, ask, model_answer("openai", GOOD))
    remote, remote_log = run_temporal(worker, approved, INPUTS, run_id, decisions)

    assert local.status == remote.status == "succeeded"
    ours, theirs = normalized(local.to_json()), normalized(remote.to_json())
    ours.pop("last_seq"), theirs.pop("last_seq")
    assert theirs == ours
    assert per_step_events(remote_log) == per_step_events(local_log)
    kinds = [e["type"] for e in remote_log]
    assert kinds.count("tool_approval_requested") == kinds.count("approval_granted") == 1
    started = [e for e in remote_log if e["type"] == "attempt_started"]
    assert [(e["attempt"], e["data"]["restart"]) for e in started] == [(1, False), (1, True)]
    ledger = [json.loads(line) for line in (tmp_path / "ledger.txt").read_text().splitlines()]
    assert len(ledger) == 2  # once per backend, with the same key (the same run id)
    assert ledger[0]["key"] == ledger[1]["key"]
    assert remote.steps["research"].output == GOOD
