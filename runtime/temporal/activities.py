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
from typing import Any

from temporalio import activity

from runtime.core.outcome import AttemptOutcome
from runtime.driver.attempt import ChildResult, RunChild, default_call_agent, execute_attempt
from runtime.driver.workers import WORKERS
from runtime.model import JSON, FailureClass
from runtime.taint import untrusted_paths
from runtime.temporal.catalog import CATALOG, WorkflowRef
from runtime.temporal.messages import ATTEMPT_ACTIVITY, command_of, outcome_to_json

log = logging.getLogger("baton.temporal")


def run_attempt(data: dict[str, Any]) -> dict[str, JSON]:
    """The attempt `data` describes (see `messages.attempt_input`), run in this thread:
    `{"outcome": ...}`, or for a sub-workflow step being prepared `{"prepared": input}`."""
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


@activity.defn(name=ATTEMPT_ACTIVITY)
async def attempt_activity(data: dict[str, Any]) -> dict[str, JSON]:
    """Run one attempt in a worker thread; heartbeat while it runs."""
    future: concurrent.futures.Future[dict[str, JSON]] = concurrent.futures.Future()

    def work() -> None:
        try:
            future.set_result(run_attempt(data))
        except BaseException as error:  # run_attempt catches Exception: this is a bug
            future.set_exception(error)

    WORKERS.submit(work)
    waiting = asyncio.wrap_future(future)
    timeout = activity.info().heartbeat_timeout
    # beat three times per timeout; nothing at all for attempts shorter than a beat
    interval = timeout.total_seconds() / 3 if timeout else None
    while True:
        done, _ = await asyncio.wait({waiting}, timeout=interval)
        if done:
            return waiting.result()
        activity.heartbeat()
