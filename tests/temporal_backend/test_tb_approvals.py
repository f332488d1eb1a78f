"""Approvals through Temporal: the `baton_decision` Update and its validator.

A principal without the gate's role is refused twice over: by the client's check (the
same message as on the local backend) and, for a caller that skips that check, by the
Update's validator in the workflow, so the refusal never enters the run's history and
the run keeps waiting. A principal with the role is recorded with role, comment and time.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError

from baton.runtime import api
from baton.runtime.temporal import client
from baton.runtime.temporal.messages import DECISION_UPDATE

INPUTS = {"topic": "durable multi-agent workflows", "client": "acme"}


def test_a_principal_without_the_role_is_refused(
    tmp_path: Path, worker: client.Target, loaded_workflows: dict[str, api.LoadedWorkflow]
) -> None:
    loaded = loaded_workflows["research_report"]
    run_id = f"gate-{uuid.uuid4().hex[:8]}"
    # the local backend's refusal, for the same run: the message to match
    db = tmp_path / "baton.db"
    api.start_run(db, loaded, INPUTS, run_id, api.DriverOptions(detach=True))
    with pytest.raises(api.RunError) as local_refusal:
        api.approve(db, run_id, "deliver", "mallory")

    async def scenario(connection: Client) -> dict[str, Any]:
        handle = await client.start(connection, worker, loaded, INPUTS, run_id)
        state, waiting = await client.watch(connection, run_id, detach=True, poll_s=0.05)
        assert waiting and state.steps["deliver"].state.value == "awaiting_approval"

        with pytest.raises(api.RunError) as refusal:
            await client.approve(connection, run_id, "deliver", "mallory")
        assert str(refusal.value) == str(local_refusal.value)
        assert "needs role 'manager'" in str(refusal.value)

        # past the client's check: the workflow's validator refuses it
        request = {"kind": "approve", "step": "deliver", "principal": "mallory", "comment": ""}
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await handle.execute_update(DECISION_UPDATE, request)
        assert "'mallory' may not decide step 'deliver'" in str(failed.value.cause)
        # an unknown step and a step without a gate, the same way
        for step, reason in (("nope", "unknown step 'nope'"), ("audit", "has no approval gate")):
            with pytest.raises(api.RunError, match=reason):
                await client.approve(connection, run_id, step, "alice")

        still = await client.state(connection, run_id)
        assert still.status == "waiting"
        assert [e for e in await client.events(connection, run_id) if "approval_" in e["type"]]
        assert not [
            e for e in await client.events(connection, run_id) if e["type"] == "approval_granted"
        ]
        # the refused updates never reached the history
        history = [
            event.WhichOneof("attributes") or "" async for event in handle.fetch_history_events()
        ]
        assert not [kind for kind in history if "update" in kind]

        assert await client.approve(connection, run_id, "deliver", "alice", "ship it") == "applied"
        # a second decision: the step already moved on (or, if still there, was decided)
        moved_on = r"not waiting for approval|already granted by alice"
        with pytest.raises(api.RunError, match=moved_on):
            await client.approve(connection, run_id, "deliver", "bob")
        final, _ = await client.watch(connection, run_id, poll_s=0.05)
        history = [
            event.WhichOneof("attributes") or "" async for event in handle.fetch_history_events()
        ]
        assert history.count("workflow_execution_update_accepted_event_attributes") == 1
        return final.to_json()

    final = client.blocking(client.with_client(worker, scenario))
    assert final["status"] == "succeeded"
    approval = final["steps"]["deliver"]["approval"]
    assert approval["decision"] == "granted"
    assert (approval["principal"], approval["role"], approval["comment"]) == (
        "alice",
        "manager",
        "ship it",
    )
    assert approval["decided_ms"] >= approval["requested_ms"] > 0
    # a decision on an ended run is refused, as on the local backend
    with pytest.raises(api.RunError, match="has already succeeded"):
        client.blocking(
            client.with_client(worker, lambda c: client.approve(c, run_id, "deliver", "alice"))
        )


def test_a_rejection_fails_the_step_with_class_rejected(
    worker: client.Target, loaded_workflows: dict[str, api.LoadedWorkflow]
) -> None:
    loaded = loaded_workflows["research_report"]
    run_id = f"reject-{uuid.uuid4().hex[:8]}"

    async def scenario(connection: Client) -> Any:
        await client.start(connection, worker, loaded, INPUTS, run_id)
        await client.watch(connection, run_id, detach=True, poll_s=0.05)
        await client.reject(connection, run_id, "deliver", "bob", "not yet")
        final, _ = await asyncio.wait_for(client.watch(connection, run_id, poll_s=0.05), 30)
        return final

    final = client.blocking(client.with_client(worker, scenario))
    assert final.status == "failed"
    deliver = final.steps["deliver"]
    assert deliver.state.value == "failed"
    assert deliver.error == {"failure": "rejected", "message": "rejected by bob: not yet"}
    assert final.steps["publish_summary"].state.value == "cancelled"
