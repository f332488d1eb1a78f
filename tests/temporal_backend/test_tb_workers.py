"""Workers as real `baton worker` processes: one killed (or stopped) mid-run, two sharing
a queue.

The builtin agents append every call to the `BATON_LEDGER` file (fsynced before the
agent does anything), so the ledger says which attempts ran, and how often.
"""

from __future__ import annotations

import signal
import uuid
from pathlib import Path
from typing import Any

import pytest
from tb_support import (
    ledger,
    normalized,
    replay_failures,
    run_local,
    start_worker_process,
    stop_process,
    wait_for,
)
from temporalio.client import Client, WorkflowHistory

from baton.commands._load import load_spec
from baton.runtime.core.apply import fold
from baton.runtime.temporal import client
from baton.runtime.temporal.messages import event_from_json
from baton.runtime.temporal.worker import host

HEARTBEAT_MS = 1500  # a dead worker's attempt is noticed within this
FAST_FAILOVER = ("--sticky-timeout", "1")


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_stopped_worker_is_replaced_without_repeating_committed_steps(
    how: str, tmp_path: Path, temporal_server: str, unique_task_queue: str
) -> None:
    """SIGKILL: the worker dies, its attempt is lost (heartbeat timeout). SIGTERM: it
    shuts down, and gives up an attempt still running after `--graceful-shutdown`."""
    loaded = load_spec("tb_workflows:SLOW")
    target = client.Target(temporal_server, "default", unique_task_queue)
    extra = (*FAST_FAILOVER, "--graceful-shutdown", "0.3")
    first = start_worker_process(
        tmp_path, temporal_server, unique_task_queue, "tb_workflows:SLOW", extra=extra
    )
    run_id = f"killed-{uuid.uuid4().hex[:8]}"
    second = None
    try:
        client.blocking(
            client.with_client(
                target,
                lambda c: client.start(c, target, loaded, {"topic": "tea"}, run_id, HEARTBEAT_MS),
            )
        )
        # `first` committed and `middle` (an external effect) is running: kill its worker
        wait_for(lambda: [c["step"] for c in ledger(tmp_path)] == ["first", "middle"], 60, "middle")
        first.send_signal(getattr(signal, how))
        first.wait(10)
        second = start_worker_process(
            tmp_path, temporal_server, unique_task_queue, "tb_workflows:SLOW", extra=FAST_FAILOVER
        )

        async def finish(connection: Client) -> tuple[list[dict[str, Any]], WorkflowHistory]:
            handle = connection.get_workflow_handle(run_id)
            log: list[dict[str, Any]] = await handle.result()
            return log, await handle.fetch_history()

        log, history = client.blocking(client.with_client(target, finish))
    finally:
        stop_process(first, signal.SIGKILL)
        if second is not None:
            stop_process(second)

    state = fold([event_from_json(event) for event in log])
    assert state.status == "succeeded"
    assert state.result == {"text": "last"}
    calls = ledger(tmp_path)
    # the committed step never ran again; the lost effect ran again under its key
    assert [c["step"] for c in calls] == ["first", "middle", "middle", "last"]
    assert calls[1]["idempotency_key"] == calls[2]["idempotency_key"]
    assert calls[1]["attempt"] == calls[2]["attempt"] == 1
    # and the log says so: the run resumed, the attempt restarted, each step committed once
    types = [(e["type"], e["step"]) for e in log]
    assert types.count(("run_resumed", None)) == 1
    restarts = [e for e in log if e["type"] == "attempt_started" and e["data"]["restart"]]
    assert [(e["step"], e["attempt"], e["data"]["external"]) for e in restarts] == [
        ("middle", 1, True)
    ]
    commits = [step for kind, step in types if kind == "step_committed"]
    assert commits == ["first", "middle", "last"]
    assert state.steps["middle"].restarts == 1
    assert state.steps["middle"].attempts == 1
    # the history with the lost attempt replays (this process hosts SLOW too)
    host([loaded], None)
    assert replay_failures([history]) == []
    # apart from the restart, the run is the one the local backend gives
    local, _ = run_local(tmp_path / "baton.db", loaded, {"topic": "tea"}, run_id, [])
    assert normalized(state.to_json()) | {"last_seq": 0} == normalized(local.to_json()) | {
        "last_seq": 0
    }


def test_a_second_worker_shares_the_load(
    tmp_path: Path, temporal_server: str, unique_task_queue: str
) -> None:
    loaded = load_spec("tb_workflows:WIDE")
    target = client.Target(temporal_server, "default", unique_task_queue)
    # four attempts at once each: eight parallel steps need both
    limit = ("--max-concurrent-attempts", "4")
    workers = [
        start_worker_process(
            tmp_path, temporal_server, unique_task_queue, "tb_workflows:WIDE", extra=limit
        )
        for _ in range(2)
    ]
    run_id = f"shared-{uuid.uuid4().hex[:8]}"
    try:

        async def scenario(connection: Client) -> tuple[list[dict[str, Any]], list[str]]:
            handle = await client.start(connection, target, loaded, {"topic": "tea"}, run_id)
            log: list[dict[str, Any]] = await handle.result()
            identities = [
                event.activity_task_started_event_attributes.identity
                async for event in handle.fetch_history_events()
                if event.HasField("activity_task_started_event_attributes")
            ]
            return log, identities

        log, identities = client.blocking(client.with_client(target, scenario))
    finally:
        for worker in workers:
            stop_process(worker)

    assert log[-1]["type"] == "run_succeeded"
    expected = {f"baton-worker-{worker.pid}@" for worker in workers}
    assert {identity.split("@")[0] + "@" for identity in identities} == expected
    assert len(identities) == 9  # eight sleeps and the join, each once
    assert sorted(c["step"] for c in ledger(tmp_path)) == sorted(
        [f"w{index}" for index in range(8)] + ["join"]
    )
