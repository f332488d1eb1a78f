"""The Temporal test harness works: a real dev server runs a real workflow through a Worker.

Uses the `temporal_server` fixture (tests/conftest_temporal.py): one dev server per session.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker


@activity.defn
async def shout(text: str) -> str:
    return text.upper() + "!"


@workflow.defn
class ShoutWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        first = await workflow.execute_activity(
            shout, text, start_to_close_timeout=timedelta(seconds=10)
        )
        return f"{first} ({workflow.info().workflow_type})"


async def _run_once(address: str, task_queue: str) -> tuple[str, str]:
    client = await Client.connect(address)
    async with Worker(client, task_queue=task_queue, workflows=[ShoutWorkflow], activities=[shout]):
        handle = await client.start_workflow(
            ShoutWorkflow.run,
            "hello",
            id=f"harness-{uuid.uuid4().hex}",
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=30),
        )
        result = await handle.result()
        description = await handle.describe()
    return result, str(description.status.name if description.status else None)


def test_dev_server_runs_a_workflow_with_an_activity(
    temporal_server: str, unique_task_queue: str
) -> None:
    assert temporal_server.startswith("127.0.0.1:")
    result, status = asyncio.run(_run_once(temporal_server, unique_task_queue))
    assert result == "HELLO! (ShoutWorkflow)"
    assert status == "COMPLETED"


def test_history_records_the_activity(temporal_server: str, unique_task_queue: str) -> None:
    async def scenario() -> list[str]:
        client = await Client.connect(temporal_server)
        async with Worker(
            client, task_queue=unique_task_queue, workflows=[ShoutWorkflow], activities=[shout]
        ):
            handle = await client.start_workflow(
                ShoutWorkflow.run,
                "again",
                id=f"harness-{uuid.uuid4().hex}",
                task_queue=unique_task_queue,
            )
            await handle.result()
            history = await handle.fetch_history()
        return [event.WhichOneof("attributes") or "" for event in history.events]

    kinds = asyncio.run(scenario())
    assert kinds[0] == "workflow_execution_started_event_attributes"
    assert "activity_task_completed_event_attributes" in kinds
    assert kinds[-1] == "workflow_execution_completed_event_attributes"
