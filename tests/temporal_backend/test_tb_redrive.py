"""Redrive on Temporal (`baton retry --backend temporal`): a failed run goes on in a new
execution of its workflow id, from its log (runtime.temporal.redrive).

A real dev server and a worker in this process. The run fails (its `left` step's agent
fails until a file exists), the file is created, the redrive finishes the run: the
committed step is never called again, the redriven step keeps its key and numbers its
attempts on, `run_redriven` is recorded, and the log reads as one under the run id.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tb_support import replay_failures, worker_in_thread

from baton.commands._load import load_spec
from baton.runtime import api
from baton.runtime.backend import Follow, TemporalBackend
from baton.runtime.core.apply import fold
from baton.runtime.temporal import client
from baton.runtime.temporal.messages import event_from_json


@pytest.fixture(scope="module")
def redrive_worker(temporal_server: str) -> Iterator[tuple[client.Target, api.LoadedWorkflow]]:
    loaded = load_spec("tb_people:REDRIVE")
    queue = f"tb-redrive-{uuid.uuid4().hex[:8]}"
    with worker_in_thread(temporal_server, queue, [loaded]) as target:
        yield target, loaded


def _backend(target: client.Target) -> TemporalBackend:
    return TemporalBackend(target.address, target.namespace, target.task_queue)


def _calls(marker: Path) -> list[dict[str, Any]]:
    path = Path(f"{marker}.ledger")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _failed_run(
    target: client.Target, loaded: api.LoadedWorkflow, marker: Path
) -> tuple[str, TemporalBackend]:
    run_id = f"rd-{uuid.uuid4().hex[:8]}"
    backend = _backend(target)
    result = backend.start(loaded, {"topic": str(marker)}, run_id, Follow())
    assert result.state.status == "failed", result.state.error
    return run_id, backend


def test_fix_then_retry_on_temporal(
    tmp_path: Path, redrive_worker: tuple[client.Target, api.LoadedWorkflow]
) -> None:
    target, loaded = redrive_worker
    marker = tmp_path / "left.fixed"
    run_id, backend = _failed_run(target, loaded, marker)
    failed = backend.state(run_id)
    assert failed.steps["left"].state.value == "failed" and failed.steps["left"].attempts == 3
    assert failed.steps["summary"].state.value == "cancelled"
    assert failed.steps["fetch"].state.value == "committed"
    fetch_key = failed.steps["fetch"].idempotency_key

    # not fixed yet: a fresh budget of 3 attempts, numbered on, and it fails again
    seen: list[str] = []
    follow = Follow(on_event=lambda event, state: seen.append(event.type))
    again = backend.redrive(run_id, lambda spec: loaded, (), "alice", False, follow)
    assert again.state.status == "failed" and again.state.redrives == 1
    assert again.state.steps["left"].attempts == 6
    assert seen[:2] == ["run_redriven", "run_resumed"]  # only what the redrive added

    marker.write_text("")
    fixed = backend.redrive(run_id, lambda spec: loaded, (), "bob", False, Follow())
    final = fixed.state
    assert final.status == "succeeded" and final.redrives == 2
    assert final.result == {"text": f"fetch: {marker}|left fixed"}
    left = final.steps["left"]
    assert (left.attempts, left.attempt_base) == (7, 6)

    log = backend.events(run_id)
    # one log under the run id: the fold of it is the state, seqs run on without a gap
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert fold([event_from_json(e) for e in log]).to_json() == final.to_json()
    redriven = [e for e in log if e["type"] == "run_redriven"]
    assert [e["data"]["by"] for e in redriven] == ["alice", "bob"]
    assert all(e["data"]["steps"] == ["left", "summary"] for e in redriven)
    assert [e["type"] for e in log].count("run_started") == 1
    # the committed step never ran again; the redriven one kept its key
    started = [e for e in log if e["type"] == "attempt_started"]
    assert [e["step"] for e in started].count("fetch") == 1
    assert {e["data"]["idempotency_key"] for e in started if e["step"] == "fetch"} == {fetch_key}
    calls = _calls(marker)
    assert [c["attempt"] for c in calls] == [1, 2, 3, 4, 5, 6, 7]
    assert len({c["key"] for c in calls}) == 1
    ids = [e["data"]["attempt_id"] for e in started]
    assert len(ids) == len(set(ids))

    # the redriven execution replays deterministically from its history
    async def history(connection: Any) -> Any:
        return await connection.get_workflow_handle(run_id).fetch_history()

    assert replay_failures([client.blocking(client.with_client(target, history))]) == []

    # a run that succeeded cannot be redriven; nothing is recorded
    with pytest.raises(api.RunError, match="succeeded: only a failed run can be redriven"):
        backend.redrive(run_id, lambda spec: loaded, (), "carol", False, Follow())
    assert backend.events(run_id) == log


def test_refusals_on_temporal(
    tmp_path: Path, redrive_worker: tuple[client.Target, api.LoadedWorkflow]
) -> None:
    target, loaded = redrive_worker
    run_id, backend = _failed_run(target, loaded, tmp_path / "never")
    before = backend.events(run_id)
    refused = {
        ("nope",): "unknown step 'nope' in run",
        ("fetch",): "step 'fetch' is committed: committed steps never run again",
    }
    for steps, message in refused.items():
        with pytest.raises(api.RunError, match=message):
            backend.redrive(run_id, lambda spec: loaded, steps, "alice", False, Follow())
    with pytest.raises(api.UnknownRun):
        backend.redrive("rd-unknown", lambda spec: loaded, (), "alice", False, Follow())
    assert backend.events(run_id) == before
