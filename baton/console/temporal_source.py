"""The console's runs on a Temporal cluster (`baton serve --backend temporal`).

Runs are listed through Temporal's visibility API: the executions of Baton's workflow
type on the task queue this console was given (a cluster may host other teams' task
queues), the newest execution of each workflow id (a redrive starts a new one). A
run's state and log come from the workflow itself, as the command line reads them
(runtime.temporal.client): the `baton_events` query while it runs, its result (the
log) once it completed. A decision is the `baton_decision` Update, whose validator in
the workflow checks the role and the approval subject again.

One Temporal client serves every request: it lives on an event loop of its own, in a
thread, and the console's request threads submit coroutines to it. The log of a
completed execution never changes, so the listing keeps it (by Temporal run id).

This console only reads and decides here: the workers (`baton worker`) drive the runs.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus

from baton.runtime import api
from baton.runtime.core.apply import fold
from baton.runtime.core.state import RunState
from baton.runtime.model import JSON
from baton.runtime.temporal import client as tc
from baton.runtime.temporal.messages import STATE_QUERY, WORKFLOW_TYPE, event_from_json
from baton.runtime.timeline import build as build_timeline

T = TypeVar("T")
LIST_LIMIT = 1000  # executions listed, as the local store lists at most 1000 runs
LIST_QUERY_TIMEOUT = timedelta(seconds=5)  # a run whose worker does not answer is listed unread
MAX_CACHED_LOGS = 2000
READS_AT_ONCE = 16  # queries (or results) in flight while listing, not one per run


def visibility_query(task_queue: str) -> str:
    """The visibility query for Baton's runs on `task_queue` (which serve checked has no
    quote or backslash).

    >>> visibility_query("baton")
    'WorkflowType = "BatonWorkflow" AND TaskQueue = "baton"'
    """
    return f'WorkflowType = "{WORKFLOW_TYPE}" AND TaskQueue = "{task_queue}"'


class TemporalSource:
    """Baton's runs on `target` (address, namespace, task queue)."""

    def __init__(self, target: tc.Target) -> None:
        self.target = target
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="baton-serve-temporal", daemon=True
        )
        self._thread.start()
        self._client: Client | None = None
        self._logs: dict[tuple[str, str], list[dict[str, JSON]]] = {}

    @property
    def name(self) -> str:
        return "temporal"

    # -- the client's loop

    def _call(self, use: Callable[[Client], Awaitable[T]]) -> T:
        async def go() -> T:
            if self._client is None:
                self._client = await tc.connect(self.target)
            return await use(self._client)

        return asyncio.run_coroutine_threadsafe(go(), self._loop).result()

    def close(self) -> None:
        """Stop the client's loop and let the client go before the interpreter exits
        (see runtime.temporal.client.blocking: the SDK must not outlive it)."""

        async def drop() -> None:
            self._client = None

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(drop(), self._loop).result(30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
        gc.collect()

    # -- reads

    def summaries(self) -> list[api.RunSummary]:
        async def listing(connection: Client) -> list[api.RunSummary]:
            newest: dict[str, WorkflowExecution] = {}
            query = visibility_query(self.target.task_queue)
            async for execution in connection.list_workflows(query, limit=LIST_LIMIT):
                seen = newest.get(execution.id)
                if seen is None or execution.start_time > seen.start_time:
                    newest[execution.id] = execution
            gate = asyncio.Semaphore(READS_AT_ONCE)

            async def summary(execution: WorkflowExecution) -> api.RunSummary:
                async with gate:
                    return await self._summary(connection, execution)

            found = await asyncio.gather(*(summary(e) for e in newest.values()))
            return sorted(found, key=lambda s: (-s.created_ms, s.run_id))

        try:
            return self._call(listing)
        except api.RunError:
            raise
        except Exception as error:  # an RPC error of the visibility API
            raise api.RunError(f"cannot list runs on Temporal: {error}") from None

    async def _summary(self, connection: Client, execution: WorkflowExecution) -> api.RunSummary:
        try:
            state = await self._execution_state(connection, execution)
        except Exception:  # no worker answered (yet): listed from what Temporal knows
            state = None
        if state is None:
            started = _ms(execution.start_time)
            closed = execution.status not in (None, WorkflowExecutionStatus.RUNNING)
            return api.RunSummary(
                run_id=execution.id,
                workflow="?",
                version=0,
                status="failed" if closed else "running",
                parent_run_id=execution.parent_id,
                created_ms=started,
                updated_ms=_ms(execution.close_time) if execution.close_time else started,
                totals={},
            )
        return api.RunSummary(
            run_id=state.run_id,
            workflow=state.workflow,
            version=state.version,
            status=state.status,
            parent_run_id=str((state.parent or {}).get("run_id") or "") or None,
            created_ms=state.started_ms,
            updated_ms=state.updated_ms,
            totals=state.totals(),
            waiting_on=tuple(state.waiting_on),
            budgets=state.budgets,
        )

    async def _execution_state(
        self, connection: Client, execution: WorkflowExecution
    ) -> RunState | None:
        handle = connection.get_workflow_handle(execution.id, run_id=execution.run_id)
        if execution.status is WorkflowExecutionStatus.COMPLETED:
            key = (execution.id, execution.run_id)
            log = self._logs.get(key)
            if log is None:
                log = await handle.result()
                if len(self._logs) >= MAX_CACHED_LOGS:
                    self._logs.clear()
                self._logs[key] = log
            return fold([event_from_json(data) for data in log])
        if execution.status is not WorkflowExecutionStatus.RUNNING:
            return None  # terminated or failed outside Baton: it has no result
        data: dict[str, Any] = await handle.query(STATE_QUERY, rpc_timeout=LIST_QUERY_TIMEOUT)
        return RunState.from_json(data)

    def state(self, run_id: str) -> RunState:
        return self._call(lambda c: tc.state(c, run_id))

    def events(self, run_id: str) -> list[dict[str, JSON]]:
        return self._call(lambda c: tc.events(c, run_id))

    def timeline(self, run_id: str) -> api.Timeline:
        return build_timeline([event_from_json(data) for data in self.events(run_id)])

    # -- decisions

    def decide(
        self,
        kind: str,
        run_id: str,
        step: str,
        principal: str,
        comment: str,
        channel: str,
        shown_sha256: str | None,
    ) -> str:
        """The `baton_decision` Update; the workers go on with the run."""
        return self._call(
            lambda c: tc.decide(c, run_id, kind, step, principal, comment, channel, shown_sha256)
        )

    def problem(self, run_id: str) -> str | None:
        return None  # serve drives nothing on Temporal


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
