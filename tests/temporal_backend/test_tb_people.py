"""Gates over time on Temporal: grants bound to what was shown, approval timeouts
(a workflow timer) and escalation. A real dev server, a worker in this process; the
tests assert on the events and the state, never on durations."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tb_support import (
    replay_failures,
    start_worker_process,
    stop_process,
    wait_for,
    worker_in_thread,
)

from baton.commands._load import load_spec
from baton.runtime import api
from baton.runtime.approval_subject import subject
from baton.runtime.core.apply import fold
from baton.runtime.temporal import client
from baton.runtime.temporal.messages import event_from_json

INPUTS = {"topic": "tea"}
NAMES = ("BOUND", "TIMEOUT_REJECT", "TIMEOUT_ESCALATE")


@pytest.fixture(scope="module")
def people(temporal_server: str) -> Iterator[tuple[client.Target, dict[str, api.LoadedWorkflow]]]:
    loaded = {name: load_spec(f"tb_people:{name}") for name in NAMES}
    queue = f"tb-people-{uuid.uuid4().hex[:8]}"
    with worker_in_thread(temporal_server, queue, list(loaded.values())) as target:
        yield target, loaded


def _run(target: client.Target, scenario: Any) -> Any:
    return client.blocking(client.with_client(target, scenario))


def _approvals(log: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [
        (e["type"], e["data"].get("action") or e["data"].get("role"))
        for e in log
        if e["type"].startswith("approval_")
    ]


def _check_log(log: list[dict[str, Any]], final: Any) -> None:
    assert fold([event_from_json(e) for e in log]).to_json() == final.to_json()


def test_a_grant_bound_to_a_stale_subject_is_voided(
    people: tuple[client.Target, dict[str, api.LoadedWorkflow]],
) -> None:
    target, loaded = people
    run_id = f"bound-{uuid.uuid4().hex[:8]}"
    workflow = loaded["BOUND"].workflow

    async def scenario(connection: Any) -> tuple[Any, list[dict[str, Any]], str]:
        await client.start(connection, target, loaded["BOUND"], INPUTS, run_id)
        state, waiting = await client.watch(connection, run_id, detach=True, poll_s=0.05)
        assert waiting
        current = subject(workflow, state, "deliver").sha256
        # shown something else (a console page out of date): recorded, then void
        stale = "0" * 64
        await client.decide(connection, run_id, "approve", "deliver", "alice", "", "web", stale)
        state, waiting = await client.watch(connection, run_id, detach=True, poll_s=0.05)
        assert waiting and state.steps["deliver"].approval is not None
        assert state.steps["deliver"].approval.voided == 1
        assert state.steps["deliver"].approval.decision is None
        # asked again: bound to what it gets now, it goes through
        await client.decide(connection, run_id, "approve", "deliver", "bob", "", "cli", current)
        final, _ = await client.watch(connection, run_id, poll_s=0.05)
        return final, await client.events(connection, run_id), current

    final, log, current = _run(target, scenario)
    assert final.status == "succeeded"
    [voided] = [e for e in log if e["type"] == "approval_voided"]
    assert voided["data"]["shown_sha256"] == "0" * 64
    assert voided["data"]["current_sha256"] == current
    assert voided["data"]["principal"] == "alice"
    granted = [e for e in log if e["type"] == "approval_granted"]
    assert [g["data"]["shown_sha256"] for g in granted] == ["0" * 64, current]
    assert final.steps["deliver"].approval.principal == "bob"
    assert [e["step"] for e in log if e["type"] == "attempt_started"] == ["fetch", "deliver"]
    _check_log(log, final)


def test_a_timeout_rejects_through_a_workflow_timer(
    people: tuple[client.Target, dict[str, api.LoadedWorkflow]],
) -> None:
    target, loaded = people
    run_id = f"tr-{uuid.uuid4().hex[:8]}"

    async def scenario(connection: Any) -> tuple[Any, list[dict[str, Any]], Any]:
        await client.start(connection, target, loaded["TIMEOUT_REJECT"], INPUTS, run_id)
        final, _ = await client.watch(connection, run_id, poll_s=0.05)
        history = await connection.get_workflow_handle(run_id).fetch_history()
        return final, await client.events(connection, run_id), history

    final, log, history = _run(target, scenario)
    assert final.status == "failed"
    assert final.steps["deliver"].error["failure"] == "rejected"
    assert _approvals(log) == [
        ("approval_requested", "manager"),
        ("approval_timed_out", "reject"),
        ("approval_rejected", "manager"),
    ]
    [rejected] = [e for e in log if e["type"] == "approval_rejected"]
    assert (rejected["data"]["principal"], rejected["data"]["channel"]) == ("baton", "timeout")
    # the timeout was a durable timer in the history, and the history replays
    kinds = [event.WhichOneof("attributes") or "" for event in history.events]
    assert "timer_started_event_attributes" in kinds
    assert replay_failures([history]) == []
    _check_log(log, final)


def test_an_escalation_on_temporal(
    people: tuple[client.Target, dict[str, api.LoadedWorkflow]],
) -> None:
    target, loaded = people
    decided, undecided = f"te-{uuid.uuid4().hex[:8]}", f"tx-{uuid.uuid4().hex[:8]}"

    async def scenario(connection: Any) -> dict[str, Any]:
        await client.start(connection, target, loaded["TIMEOUT_ESCALATE"], INPUTS, decided)
        await client.start(connection, target, loaded["TIMEOUT_ESCALATE"], INPUTS, undecided)
        # wait (on events, not time) until the request went to the ceo
        while True:
            state = await client.state(connection, decided)
            approval = state.steps["deliver"].approval
            if approval is not None and approval.escalated_from is not None:
                break
            await asyncio.sleep(0.05)
        assert approval.role == "ceo" and approval.decision is None
        with pytest.raises(api.RunError, match="needs role 'ceo'"):
            await client.decide(connection, decided, "approve", "deliver", "alice")
        await client.decide(connection, decided, "approve", "deliver", "carol")
        final, _ = await client.watch(connection, decided, poll_s=0.05)
        other, _ = await client.watch(connection, undecided, poll_s=0.05)
        return {
            "decided": (final, await client.events(connection, decided)),
            "undecided": (other, await client.events(connection, undecided)),
        }

    runs = _run(target, scenario)
    final, log = runs["decided"]
    assert final.status == "succeeded"
    assert final.steps["deliver"].approval.principal == "carol"
    assert _approvals(log) == [
        ("approval_requested", "manager"),
        ("approval_timed_out", "escalate"),
        ("approval_escalated", "ceo"),
        ("approval_granted", "ceo"),
    ]
    _check_log(log, final)
    other, other_log = runs["undecided"]
    assert other.status == "failed"
    assert _approvals(other_log)[1:] == [
        ("approval_timed_out", "escalate"),
        ("approval_escalated", "ceo"),
        ("approval_timed_out", "reject"),
        ("approval_rejected", "ceo"),
    ]
    _check_log(other_log, other)


def test_sigkill_of_the_worker_after_each_timeout_event(
    tmp_path: Path, temporal_server: str, unique_task_queue: str
) -> None:
    """A real `baton worker` process is SIGKILLed right after the run records
    `approval_timed_out` + `approval_escalated` (one workflow task); a new worker takes
    the run on from its history: the escalated request times out and is rejected."""
    loaded = load_spec("tb_people:TIMEOUT_ESCALATE")
    target = client.Target(temporal_server, "default", unique_task_queue)
    spec = "tb_people:TIMEOUT_ESCALATE"
    worker = start_worker_process(tmp_path, temporal_server, unique_task_queue, spec)
    run_id = f"kill-{uuid.uuid4().hex[:8]}"
    try:
        _run(target, lambda c: client.start(c, target, loaded, INPUTS, run_id))

        def escalated() -> bool:
            log = _run(target, lambda c: client.events(c, run_id))
            return any(e["type"] == "approval_escalated" for e in log)

        wait_for(escalated, 60, "the escalation")
        stop_process(worker, signal.SIGKILL)
        worker = start_worker_process(tmp_path, temporal_server, unique_task_queue, spec)

        async def finish(connection: Any) -> tuple[Any, list[dict[str, Any]]]:
            final, _ = await client.watch(connection, run_id, poll_s=0.05)
            return final, await client.events(connection, run_id)

        final, log = _run(target, finish)
    finally:
        stop_process(worker, signal.SIGKILL)
    # the escalated request's timer fired while no worker ran, or after: the same log
    assert final.status == "failed"
    assert _approvals(log) == [
        ("approval_requested", "manager"),
        ("approval_timed_out", "escalate"),
        ("approval_escalated", "ceo"),
        ("approval_timed_out", "reject"),
        ("approval_rejected", "ceo"),
    ]
    assert [e["step"] for e in log if e["type"] == "attempt_started"] == ["fetch"]
    _check_log(log, final)
