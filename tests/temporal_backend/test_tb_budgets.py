"""Budgets on Temporal: the same core holds the attempt back at an enforced cap, and the
raise arrives as the `baton_decision` Update (kind `raise_budget`), checked by its
validator; the run then ends as the same run does on the local backend."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from tb_support import BATON, normalized, start_worker_process, stop_process, worker_env
from temporalio.client import Client

from baton.runtime import api
from baton.runtime.core.budget import RAISE_BUDGET, encode_limits
from baton.runtime.temporal import client

INPUTS = {"topic": "tea"}


def _local(db: Path, loaded: api.LoadedWorkflow, run_id: str) -> dict[str, Any]:
    options = api.DriverOptions(detach=True)
    result = api.start_run(db, loaded, INPUTS, run_id, options)
    assert result.detached and result.state.waiting_on == ["budget"]
    with pytest.raises(api.RunError) as refusal:
        api.raise_budget(db, run_id, None, {"usd": 0.01}, "alice")
    api.raise_budget(db, run_id, None, {"usd": 1.0}, "alice")
    result = api.resume_run(db, run_id, lambda spec: loaded, options=options)
    return {"state": result.state.to_json(), "refusal": str(refusal.value)}


def test_enforce_waits_and_the_raise_is_an_update(
    tmp_path: Path, worker: client.Target, loaded_workflows: dict[str, api.LoadedWorkflow]
) -> None:
    loaded = loaded_workflows["BUDGETED"]
    run_id = f"budget-{uuid.uuid4().hex[:8]}"
    local = _local(tmp_path / "baton.db", loaded, run_id)

    async def scenario(connection: Client) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        await client.start(connection, worker, loaded, INPUTS, run_id)
        state, waiting = await client.watch(connection, run_id, detach=True, poll_s=0.05)
        assert waiting and state.waiting_on == ["budget"]
        assert state.steps["c"].attempts == 0
        with pytest.raises(api.RunError) as refusal:
            limits = encode_limits({"usd": 0.01})
            await client.decide(connection, run_id, RAISE_BUDGET, None, "alice", limits)
        assert str(refusal.value) == local["refusal"]
        limits = encode_limits({"usd": 1.0})
        outcome = await client.decide(connection, run_id, RAISE_BUDGET, None, "alice", limits)
        assert outcome == "applied"
        final, _ = await client.watch(connection, run_id, poll_s=0.05)
        return final.to_json(), await client.events(connection, run_id)

    final, events = client.blocking(client.with_client(worker, scenario))
    assert final["status"] == "succeeded"
    ignore = {"last_seq": 0}  # the local run has a `run_resumed` more
    assert normalized(final) | ignore == normalized(local["state"]) | ignore
    [raised] = [e for e in events if e["type"] == "budget_raised"]
    assert raised["data"]["by"] == "alice" and raised["data"]["usd"] == 1.0
    assert [e["data"]["mode"] for e in events if e["type"] == "budget_exceeded"] == [
        "enforce",
        "audit",
    ]


def test_resume_raise_budget_on_temporal_from_the_command_line(
    tmp_path: Path, temporal_server: str, unique_task_queue: str
) -> None:
    spec = "tb_workflows:BUDGETED"
    worker = start_worker_process(tmp_path, temporal_server, unique_task_queue, spec)
    run_id = f"budget-cli-{uuid.uuid4().hex[:8]}"
    on = ("--backend", "temporal", "--address", temporal_server, "--task-queue", unique_task_queue)

    def baton(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BATON, *args, *on],
            cwd=tmp_path,
            env=worker_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )

    try:
        started = baton("run", spec, "--input", json.dumps(INPUTS), "--run-id", run_id, "--detach")
        assert started.returncode == 3, started.stdout + started.stderr
        assert "--raise-budget usd=N --backend temporal" in started.stdout
        status = baton("status", run_id)
        assert "waiting on budget" in status.stdout, status.stdout + status.stderr
        refused = baton("resume", run_id, "--raise-budget", "usd=0.01")
        assert refused.returncode == 2 and "spent already" in refused.stderr
        raised = baton("resume", run_id, "--raise-budget", "usd=1", "--as", "carol")
        assert raised.returncode == 0, raised.stdout + raised.stderr
        assert f"{run_id}: the run's budget raised to usd=1 by carol" in raised.stdout
        assert f"run {run_id} succeeded" in raised.stdout
    finally:
        stop_process(worker)
