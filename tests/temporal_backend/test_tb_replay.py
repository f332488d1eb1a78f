"""Replay safety: the histories of finished runs replay through `BatonWorkflow` (in the
same sandbox as the worker's) without a non-determinism error. Between them they hold
every command the workflow gives: activities, a retry's durable timer, the decision
Update, a child workflow and its local activities, a cancel, a delegation recorded
through the `baton_record` Update. (A timed-out activity:
test_tb_timeouts.py; a lost one: test_tb_workers.py.)"""

from __future__ import annotations

import uuid

from tb_support import Decide, replay_failures, run_temporal
from temporalio.client import Client, WorkflowHistory

from baton.runtime import api
from baton.runtime.temporal import client

RUNS: list[tuple[str, dict[str, str], list[Decide]]] = [
    ("FANOUT", {"topic": "tea"}, [("approve", "deliver", "alice")]),
    ("PARENT", {"topic": "tea"}, []),
    ("TIMEOUTS", {"topic": "tea"}, []),
    ("REVIEWED", {"topic": "tea"}, [("cancel", None, "ops")]),
    ("DELEGATING", {"topic": "tea"}, []),
    ("research_report", {"topic": "tea", "client": "acme"}, [("approve", "deliver", "bob")]),
]


def test_finished_runs_replay_deterministically(
    worker: client.Target, loaded_workflows: dict[str, api.LoadedWorkflow]
) -> None:
    run_ids = []
    for name, inputs, decisions in RUNS:
        run_id = f"replay-{name.lower()}-{uuid.uuid4().hex[:8]}"
        run_temporal(worker, loaded_workflows[name], inputs, run_id, decisions)
        run_ids.append(run_id)
    run_ids.append(f"{run_ids[1]}:child:1")  # PARENT's child run

    async def histories(connection: Client) -> list[WorkflowHistory]:
        return [await connection.get_workflow_handle(r).fetch_history() for r in run_ids]

    found = client.blocking(client.with_client(worker, histories))
    kinds = {e.WhichOneof("attributes") for history in found for e in history.events}
    for kind in (
        "timer_started_event_attributes",
        "workflow_execution_update_accepted_event_attributes",
        "start_child_workflow_execution_initiated_event_attributes",
        "marker_recorded_event_attributes",  # local activities
    ):
        assert kind in kinds, kind
    assert replay_failures(found) == []
