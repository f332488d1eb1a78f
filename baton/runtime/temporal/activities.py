"""The attempt activity: one agent attempt, exactly as the local driver runs it.

`execute_attempt` renders the step's input, calls the agent through its adapter,
validates the output against its handoff, scores it and checksums it; every way that
can go wrong is an `AttemptOutcome` with its failure class, never an exception. So the
activity never fails for a fault of the agent or of the data: Temporal sees a failure
only when the attempt itself was lost (its worker died, it was cancelled), and the
workflow tells those apart from Baton's own timeouts (see `runtime.temporal.workflow`).

The agent runs in one of the runtime's daemon worker threads (an abandoned attempt
never keeps a worker process alive), while the activity heartbeats, so that a worker
that dies mid-attempt is noticed within the run's heartbeat timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError

from baton.runtime.agents.envelope import AgentFailure
from baton.runtime.core import events as ev
from baton.runtime.core.commands import StartAttempt
from baton.runtime.core.outcome import AttemptOutcome
from baton.runtime.driver.attempt import ChildResult, RunChild, default_call_agent, execute_attempt
from baton.runtime.driver.workers import WORKERS
from baton.runtime.model import JSON, FailureClass
from baton.runtime.taint import untrusted_paths
from baton.runtime.temporal.catalog import CATALOG, WorkflowRef

if TYPE_CHECKING:
    from baton.runtime.delegation import DelegationHost
from baton.runtime.temporal.messages import (
    ATTEMPT_ACTIVITY,
    RECORD_UPDATE,
    body_to_json,
    command_of,
    outcome_to_json,
)

log = logging.getLogger("baton.temporal")


def run_attempt(data: dict[str, Any], host: DelegationHost | None = None) -> dict[str, JSON]:
    """The attempt `data` describes (see `messages.attempt_input`), run in this thread:
    `{"outcome": ...}`, or for a sub-workflow step being prepared `{"prepared": input}`.
    `host`: where the agent's delegations are recorded (None: it cannot delegate)."""
    command = command_of(data)
    try:
        workflow = CATALOG.resolve(WorkflowRef.from_json(data["ref"]))
        step = workflow.step(command.step)
        untrusted = untrusted_paths(workflow, data.get("tainted") or ())
        outcome = execute_attempt(
            workflow,
            step,
            command,
            data["run_id"],
            data["scope"],
            default_call_agent,
            _child_stage(data.get("child")),
            untrusted=untrusted,
            delegation_host=host,
        )
    except _Prepared as prepared:
        return {"prepared": prepared.rendered}
    except Exception as error:  # a bug below us (or a worker without the spec): as local
        log.exception("attempt %s crashed", command.attempt_id)
        outcome = AttemptOutcome(
            step=command.step,
            attempt=command.attempt,
            latency_ms=0,
            failure=FailureClass.AGENT_ERROR,
            message=f"internal error: {error!r}",
            received=False,
        )
    return {"outcome": outcome_to_json(outcome)}


class _Prepared(Exception):
    """A sub-workflow step's input, rendered: the workflow starts the child run with it."""

    def __init__(self, rendered: JSON) -> None:
        super().__init__("prepared")
        self.rendered = rendered


def _child_stage(child: JSON) -> RunChild | None:
    """A sub-workflow step runs through `execute_attempt` twice, around its child run
    (a child workflow, which only the workflow can start): once to render its input
    ("prepare"), once to judge how the child ended."""
    if child is None:
        return None

    def run_child(name: str, child_run_id: str, rendered: JSON) -> ChildResult:
        if child == "prepare":
            raise _Prepared(rendered)
        return ChildResult(child["status"], child.get("result"), child.get("message", ""))

    return run_child


class RunHost:
    """`runtime.delegation.DelegationHost` for an attempt run as an activity: the agent's
    delegations are recorded in the run's log through its `baton_record` Update, which
    returns once the workflow task that applied it is durable, so a delegation is in
    the history before its delegate is called (as the local driver's commit)."""

    def __init__(
        self,
        handle: WorkflowHandle[Any, Any],
        loop: asyncio.AbstractEventLoop,
        command: StartAttempt,
        completed: dict[str, JSON],
        timeout_ms: int,
    ) -> None:
        self.handle = handle
        self.loop = loop
        self.command = command
        self._completed = {key: (value[0], value[1]) for key, value in completed.items()}
        self.timeout_s = timeout_ms / 1000

    def record(self, bodies: list[ev.EventBody]) -> None:
        request = {
            "step": self.command.step,
            "attempt": self.command.attempt,
            "events": [body_to_json(body) for body in bodies],
        }
        sent = asyncio.run_coroutine_threadsafe(
            self.handle.execute_update(RECORD_UPDATE, request), self.loop
        )
        try:
            sent.result(self.timeout_s)
        except concurrent.futures.TimeoutError:
            sent.cancel()
            raise AgentFailure(
                FailureClass.TIMEOUT, "the delegation could not be recorded in time"
            ) from None
        except WorkflowUpdateFailedError as error:  # the attempt is over
            message = str(getattr(error.cause, "message", None) or error.cause or error)
            raise AgentFailure(FailureClass.CANCELLED, message) from None
        except RPCError as error:
            raise AgentFailure(
                FailureClass.CANCELLED, f"the delegation could not be recorded: {error.message}"
            ) from None
        for body in bodies:
            if isinstance(body, ev.DelegationCompleted):
                self._completed[body.idempotency_key] = (body.output, body.checksum)
            elif isinstance(body, ev.ToolCallCompleted):  # runtime.tools reuses it
                self._completed[body.key] = (body.result, body.checksum)

    def completed(self, key: str) -> tuple[JSON, str] | None:
        return self._completed.get(key)


@activity.defn(name=ATTEMPT_ACTIVITY)
async def attempt_activity(data: dict[str, Any]) -> dict[str, JSON]:
    """Run one attempt in a worker thread; heartbeat while it runs."""
    future: concurrent.futures.Future[dict[str, JSON]] = concurrent.futures.Future()
    info = activity.info()
    host = None
    if data.get("child") is None and not info.is_local and info.workflow_id is not None:
        handle = activity.client().get_workflow_handle(
            info.workflow_id, run_id=info.workflow_run_id
        )
        deadline = info.schedule_to_close_timeout or timedelta(minutes=5)
        host = RunHost(
            handle,
            asyncio.get_running_loop(),
            command_of(data),
            data.get("delegations") or {},
            int(deadline.total_seconds() * 1000),
        )

    def work() -> None:
        try:
            future.set_result(run_attempt(data, host))
        except BaseException as error:  # run_attempt catches Exception: this is a bug
            future.set_exception(error)

    WORKERS.submit(work)
    waiting = asyncio.wrap_future(future)
    timeout = info.heartbeat_timeout
    # beat three times per timeout; nothing at all for attempts shorter than a beat
    interval = timeout.total_seconds() / 3 if timeout else None
    while True:
        done, _ = await asyncio.wait({waiting}, timeout=interval)
        if done:
            return waiting.result()
        activity.heartbeat()
