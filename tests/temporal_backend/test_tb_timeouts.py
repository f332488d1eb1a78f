"""Baton's timeout on Temporal: a step's timeout is its activity's schedule-to-close
timeout, so it counts from `attempt_started` (waiting for a worker included, as the
local deadline does), and Temporal never retries it: the attempt fails with class
`timeout` and Baton's retry policy decides.

An agent's adapter enforces the same timeout itself, and usually reports first; here the
attempt waits for a worker whose one activity slot another run holds, so its timeout
can only come from Temporal.
"""

from __future__ import annotations

import asyncio
import uuid

from tb_support import replay_failures, worker_in_thread
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowHistory

from baton.runtime import api
from baton.runtime.temporal import client
from baton.runtime.temporal.worker import WorkerOptions

STARTED = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED


def test_an_attempt_waiting_for_a_worker_times_out_through_temporal(
    temporal_server: str,
    unique_task_queue: str,
    loaded_workflows: dict[str, api.LoadedWorkflow],
) -> None:
    hog, queued = loaded_workflows["HOG"], loaded_workflows["QUEUED"]
    one_slot = WorkerOptions(max_concurrent_activities=1)
    hog_id, run_id = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("hog", "queued"))
    with worker_in_thread(temporal_server, unique_task_queue, [hog, queued], one_slot) as target:

        async def scenario(connection: Client) -> WorkflowHistory:
            await client.start(connection, target, hog, {"topic": "tea"}, hog_id)
            handle = connection.get_workflow_handle(hog_id)

            async def hogging() -> bool:  # its activity holds the worker's only slot
                pending = (await handle.describe()).raw_description.pending_activities
                return any(activity.state == STARTED for activity in pending)

            while not await hogging():
                await asyncio.sleep(0.02)
            await client.start(connection, target, queued, {"topic": "tea"}, run_id)
            await connection.get_workflow_handle(run_id).result()
            return await connection.get_workflow_handle(run_id).fetch_history()

        found = client.blocking(client.with_client(target, scenario))
        log = client.blocking(client.with_client(target, lambda c: client.events(c, run_id)))
    failed = [e for e in log if e["type"] == "attempt_failed"]
    assert [(e["step"], e["data"]["failure"], e["data"]["message"]) for e in failed] == [
        ("starved", "timeout", "no reply within 800 ms")
    ]
    assert failed[0]["data"]["latency_ms"] == 800
    # one attempt: Temporal retried nothing, and Baton's policy allows none
    assert [e["step"] for e in log if e["type"] == "attempt_started"] == ["starved"]
    assert log[-1]["type"] == "run_failed"
    assert log[-1]["data"]["failure"] == "timeout"
    kinds = [e.WhichOneof("attributes") for e in found.events]
    assert "activity_task_timed_out_event_attributes" in kinds
    assert "activity_task_started_event_attributes" not in kinds  # it never ran
    assert replay_failures([found]) == []
