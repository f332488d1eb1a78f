"""`BatonWorkflow`: one generic Temporal workflow type that runs any compiled workflow.

It is the local driver's loop (`runtime.driver.local`) with Temporal in place of SQLite:
the run's state is the fold of its events through the same `apply`, and `decide` says
what to do next. The workflow records what it does as Baton events of its own, stamped
with `workflow.now()`; retry jitter comes from `workflow.random()`. Temporal's history
holds everything those events are computed from (the input, activity results, timers,
decisions), so a replay on any worker rebuilds the same events and the same state.

- An attempt is the `baton_attempt` activity (`runtime.temporal.activities`), scheduled
  in the same workflow task that records its `attempt_started`: the outbox rule of an
  `effect: external` step holds, since the activity cannot start before that task is
  durable. Temporal never retries it (`maximum_attempts=1`): Baton's retry policy
  decides, and its backoff is a durable timer.
- The step's timeout is the activity's schedule-to-close timeout (so it counts from
  `attempt_started`, queueing included, like the local deadline); when it fires the
  attempt fails with class `timeout`, as `decide` would have failed it.
- An attempt whose worker died (heartbeat timeout) or shut down is *lost*, not failed:
  as on the local backend after a crash, the run records `run_resumed` and the attempt
  runs again under the same idempotency key and attempt number (`restart`). Other
  attempts in flight are waited for first, so only the lost ones run again.
- A sub-workflow step runs its workflow as a child `BatonWorkflow` whose workflow id is
  the local child run id (`PARENT:STEP:ATTEMPT`); `execute_attempt` renders its input
  before and judges the child's result after, as local activities (they call no agent).
- Before an attempt starts, the outputs it consumes are checked against their checksums,
  as the local driver does (`runtime.checksums`).
- An agent's run-time delegations are recorded through the `baton_record` Update,
  sent by its attempt's activity, which waits for it (durable) before the delegate is
  called; its validator refuses events of an attempt that is no longer live.
- Approvals, rejections and cancels are the `baton_decision` Update; its validator
  refuses what `decision_event` refuses (a principal without the role, a step that is
  not waiting), so a refused decision never reaches the history.
- Queries `baton_state` and `baton_events` read the state (`state.json`) and the log;
  the workflow's result is the log, so a finished run reads without any worker.

Sandbox: this module runs inside Temporal's workflow sandbox; the runtime modules it
uses are imported passed through (the worker lists them, `runtime.temporal.worker`).
They are deterministic, and the compiled workflow comes from the passed-through
`CATALOG`, loaded outside any workflow.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy as TemporalRetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    TimeoutType,
)
from temporalio.exceptions import TimeoutError as TemporalTimeout

with workflow.unsafe.imports_passed_through():
    from baton.runtime.checksums import ConsumptionCheck, failure_event
    from baton.runtime.core import commands as cmd
    from baton.runtime.core import events as ev
    from baton.runtime.core import review
    from baton.runtime.core.apply import apply, fold
    from baton.runtime.core.approvals import next_deadline
    from baton.runtime.core.decide import decide, steps_by_id
    from baton.runtime.core.decisions import DecisionRefused, decision_event
    from baton.runtime.core.map_commands import RetryItem, StartItem, TimeoutItem
    from baton.runtime.core.mapping import item_events, item_live, item_scope, next_item_due
    from baton.runtime.core.outcome import AttemptOutcome, outcome_events
    from baton.runtime.core.plan import run_started, workflow_pin
    from baton.runtime.core.route import as_started
    from baton.runtime.core.state import RunState
    from baton.runtime.driver.attempt import ChildResult
    from baton.runtime.model import JSON, FailureClass, Step, StepState, Workflow
    from baton.runtime.temporal.catalog import CATALOG
    from baton.runtime.temporal.messages import (
        ATTEMPT_ACTIVITY,
        DECISION_UPDATE,
        EVENTS_QUERY,
        RECORD_UPDATE,
        STATE_QUERY,
        WORKFLOW_TYPE,
        RunInput,
        attempt_input,
        body_from_json,
        event_from_json,
        outcome_from_json,
    )
    from baton.runtime.temporal.notifications import Deliveries
    from baton.runtime.temporal.redrive import continue_from
    from baton.runtime.validate import validate

NO_RETRY = TemporalRetryPolicy(maximum_attempts=1)  # Baton's retry policy decides
# rendering and judging a sub-workflow step's attempt: pure work, no agent is called
CHILD_STAGE_TIMEOUT = timedelta(seconds=30)
# the step's timeout (schedule-to-close; reported as schedule-to-start when the attempt
# never reached a worker); a heartbeat timeout is a lost worker instead
_BATON_TIMEOUTS = (
    TimeoutType.SCHEDULE_TO_CLOSE,
    TimeoutType.SCHEDULE_TO_START,
    TimeoutType.START_TO_CLOSE,
)


@dataclass
class _Flight:
    """The live attempt of a step: an activity, or a child run (an asyncio task)."""

    attempt: int
    task: asyncio.Task[Any]
    child: bool = False


@dataclass(frozen=True)
class _Arrival:
    """How an attempt came back: an outcome, lost with its worker, or timed out."""

    command: cmd.StartAttempt | StartItem  # a step's attempt, or a map step's item's
    task: asyncio.Task[Any]
    outcome: AttemptOutcome | None = None
    lost: bool = False
    timed_out: bool = False


@workflow.defn(name=WORKFLOW_TYPE)
class BatonWorkflow:
    """Runs one Baton run: the input names the compiled workflow, the result is the log."""

    @workflow.init
    def __init__(self, request: dict[str, Any]) -> None:
        self._input = RunInput.from_json(request)
        # a worker that does not host this workflow fails the workflow task (retried by
        # Temporal until a worker that hosts it takes it), never the run
        self._workflow: Workflow = CATALOG.resolve(self._input.ref)
        self._steps = steps_by_id(self._workflow)
        self._events: list[ev.Event] = []
        self._state: RunState | None = None
        self._trace_id = self._input.trace_id or workflow.uuid4().hex
        self._integrity = ConsumptionCheck()
        self._arrived: list[_Arrival] = []
        self._in_flight: dict[str, _Flight] = {}
        # a map step's item attempts (runtime.core.mapping), by (step, index)
        self._items_in_flight: dict[tuple[str, int], _Flight] = {}
        self._lost: set[str] = set()
        self._poked = False
        # step -> its completed delegations, key -> [output, checksum] (reused on restart)
        self._delegations: dict[str, dict[str, JSON]] = {}
        self._notices = Deliveries(self._workflow)  # webhooks (runtime.notify)
        start = self._input
        if start.log is not None:  # a redrive: go on from the run's log (temporal.redrive)
            self._events, self._state, first = continue_from(start.log, start.redrive, start.pin)
            for body in first:
                self._emit(body)
        else:
            self._emit(
                run_started(self._workflow, start.inputs, start.pin, start.spec, start.parent)
            )

    # -- the loop

    @workflow.run
    async def run(self, request: dict[str, Any]) -> list[dict[str, JSON]]:
        """Drive the run to its end; the result is its event log (`baton events --json`)."""
        while True:
            now = self._now()
            self._take_arrivals()
            self._restart_lost()
            for command in self._decide(now):
                self._dispatch(command)
            self._prune()
            self._record_notices()
            state = self.state
            if state.outcome is not None:
                while self._notices.busy:  # every outcome in the log the workflow returns
                    await workflow.wait_condition(lambda: bool(self._notices.finished))
                    self._record_notices()
                return [event.to_json() for event in self._events]
            wake_at = _earliest(_retry_due(state), next_deadline(state), next_item_due(state))
            timeout = None if wake_at is None else max(wake_at - now, 1) / 1000
            try:
                await workflow.wait_condition(
                    lambda: bool(self._arrived) or self._poked or bool(self._notices.finished),
                    timeout=timeout,
                    timeout_summary="retry backoff",
                )
            except TimeoutError:  # asyncio's, in Python 3.11
                pass  # a retry fell due
            except asyncio.CancelledError:
                # the Temporal workflow was cancelled (its parent run ended, or by hand)
                if not self.state.cancel_requested and self.state.outcome is None:
                    by = "parent run ended" if self._input.parent else "temporal cancel request"
                    self._emit(ev.CancelRequested(by=by))
            self._poked = False

    def _decide(self, now: int) -> list[cmd.StartAttempt | StartItem]:
        """Execute what `decide` says until it says nothing new; the attempts to start.

        While an attempt is lost, no attempt starts: its restart waits for the others.
        """
        to_start: list[cmd.StartAttempt | StartItem] = []
        while True:
            actions = [
                command
                for command in decide(self._workflow, self.state, now)
                if not isinstance(command, cmd.Wait)
                and not (self._lost and isinstance(command, cmd.StartAttempt | StartItem))
            ]
            if not actions:
                return to_start
            for command in actions:
                if isinstance(command, cmd.StartAttempt):
                    # as the local driver: the outputs it consumes still match their checksums
                    mismatch = self._integrity.check(self.state, self._steps[command.step])
                    if mismatch is not None:
                        self._emit(failure_event(mismatch))
                        return []
                retry = isinstance(command, cmd.ScheduleRetry | RetryItem)
                jitter = workflow.random().random() if retry else 0.0
                body = cmd.event_for(command, now, jitter)
                assert body is not None
                self._emit(body)
                if isinstance(command, cmd.StartAttempt | StartItem):
                    to_start.append(command)

    def _take_arrivals(self) -> None:
        """Record what came back, unless the attempt is no longer the live one."""
        arrived, self._arrived = self._arrived, []
        for arrival in arrived:
            command = arrival.command
            if isinstance(command, StartItem):
                self._take_item(arrival, command)
                continue
            flight = self._in_flight.get(command.step)
            if flight is None or flight.task is not arrival.task:
                workflow.logger.info("late result of %s discarded", command.attempt_id)
                continue
            del self._in_flight[command.step]
            if not self._live(command):
                workflow.logger.info("late result of %s discarded", command.attempt_id)
            elif arrival.outcome is not None:
                for body in outcome_events(arrival.outcome, command.idempotency_key):
                    self._emit(body)
            elif arrival.timed_out:
                timeout_ms = self._steps[command.step].timeout_ms
                timeout = cmd.TimeoutAttempt(
                    command.step, command.attempt, timeout_ms, command.review
                )
                failed = cmd.event_for(timeout, self._now())
                assert failed is not None
                self._emit(failed)
            elif arrival.lost:
                workflow.logger.warning("attempt %s lost with its worker", command.attempt_id)
                self._lost.add(command.step)

    def _take_item(self, arrival: _Arrival, command: StartItem) -> None:
        """As `_take_arrivals`, for a map step's item attempt."""
        where = (command.step, command.index)
        flight = self._items_in_flight.get(where)
        if flight is None or flight.task is not arrival.task:
            workflow.logger.info("late result of %s discarded", command.attempt_id)
            return
        del self._items_in_flight[where]
        if not item_live(self.state, command):
            workflow.logger.info("late result of %s discarded", command.attempt_id)
        elif arrival.outcome is not None:
            for body in item_events(arrival.outcome, command.index):
                self._emit(body)
        elif arrival.timed_out:
            timeout_ms = self._steps[command.step].timeout_ms
            timeout = TimeoutItem(command.step, command.index, command.attempt, timeout_ms)
            self._emit(cmd.event_for(timeout, self._now()) or ev.CancelRequested())
        elif arrival.lost:
            workflow.logger.warning("attempt %s lost with its worker", command.attempt_id)
            self._lost.add(command.step)

    def _restart_lost(self) -> None:
        """Once only lost attempts are in flight, run them again (same key, same number).

        `run_resumed` marks every open attempt interrupted, as after a local crash; a
        child run in flight is not lost, and its restart waits for the same child.
        """
        state = self.state
        self._lost = {
            step for step in self._lost if state.steps[step].attempt_open and state.outcome is None
        }
        if not self._lost:
            return
        if any(not flight.child for flight in self._in_flight.values()):
            return
        if self._items_in_flight:  # item attempts still running are not lost
            return
        self._emit(ev.RunResumed(owner="temporal", spec_sha256=state.spec_sha256))
        self._lost.clear()

    def _prune(self) -> None:
        """Forget attempts that ended without their activity (timed out, run ended)."""
        state = self.state
        for step, flight in list(self._in_flight.items()):
            record = state.steps[step]
            if not (record.attempt_open and record.attempts == flight.attempt):
                del self._in_flight[step]
        for (step, index), flight in list(self._items_in_flight.items()):
            mapped = state.steps[step].map
            item = mapped.active.get(index) if mapped is not None else None
            running = state.steps[step].state is StepState.RUNNING
            if not (running and item and item.attempt_open and item.attempts == flight.attempt):
                del self._items_in_flight[(step, index)]

    # -- attempts

    def _dispatch_item(self, command: StartItem) -> None:
        """A map step's item attempt: the attempt activity, the item in its scope."""
        step = self._steps[command.step]
        state = self.state
        scope = item_scope(state.scope(), step, command.item)
        tainted = [name for name, record in state.steps.items() if record.untrusted_sources]
        mapped = state.steps[step.id].map
        item = mapped.active.get(command.index) if mapped is not None else None
        restarts = item.restarts if item is not None else 0
        task = workflow.start_activity(
            ATTEMPT_ACTIVITY,
            attempt_input(self._input.ref, state.run_id, command.as_attempt(), scope, tainted),
            schedule_to_close_timeout=timedelta(milliseconds=step.timeout_ms),
            heartbeat_timeout=timedelta(milliseconds=self._input.heartbeat_ms)
            if self._input.heartbeat_ms > 0
            else None,
            retry_policy=NO_RETRY,
            activity_id=f"{step.id}[{command.index}]#{command.attempt}"
            + (f".{restarts}" if restarts else ""),
            summary=f"{step.id} item {command.index} attempt {command.attempt}",
        )
        self._items_in_flight[(step.id, command.index)] = _Flight(command.attempt, task)
        task.add_done_callback(lambda done: self._arrived.append(_arrival(command, done)))

    def _dispatch(self, command: cmd.StartAttempt | StartItem) -> None:
        if isinstance(command, StartItem):
            self._dispatch_item(command)
            return
        step = as_started(self._steps[command.step], command)  # a routed step's target
        flight = self._in_flight.get(step.id)
        if flight is not None and flight.child and flight.attempt == command.attempt:
            return  # a restarted child step waits for the same child run
        state = self.state
        scope = state.scope()
        if command.review:  # a reviewer reads the output under review
            scope = review.review_scope(scope, state.steps[step.id])
        tainted = [name for name, record in state.steps.items() if record.untrusted_sources]
        task: asyncio.Task[Any]
        if step.workflow is not None:
            task = asyncio.create_task(self._child_attempt(step, command, scope, tainted))
        else:
            restarts = state.steps[step.id].restarts
            task = workflow.start_activity(
                ATTEMPT_ACTIVITY,
                attempt_input(
                    self._input.ref,
                    state.run_id,
                    command,
                    scope,
                    tainted,
                    delegations=self._delegations.get(step.id),
                ),
                schedule_to_close_timeout=timedelta(milliseconds=step.timeout_ms),
                heartbeat_timeout=timedelta(milliseconds=self._input.heartbeat_ms)
                if self._input.heartbeat_ms > 0
                else None,
                retry_policy=NO_RETRY,
                activity_id=f"{step.id}#{command.attempt}"
                + (f"~review{command.review}" if command.review else "")
                + (f".{restarts}" if restarts else ""),
                summary=f"{step.id} attempt {command.attempt}"
                + (f" review round {command.review}" if command.review else ""),
            )
        self._in_flight[step.id] = _Flight(command.attempt, task, child=step.workflow is not None)
        task.add_done_callback(lambda done: self._arrived.append(_arrival(command, done)))

    async def _child_attempt(
        self, step: Step, command: cmd.StartAttempt, scope: dict[str, JSON], tainted: list[str]
    ) -> AttemptOutcome:
        """A sub-workflow step's attempt: `execute_attempt` renders its input, the child
        run is a child workflow, `execute_attempt` judges its result (both stages local
        activities: they call no agent)."""
        started = self._now()

        async def stage(child: str | dict[str, JSON]) -> dict[str, Any]:
            data = attempt_input(self._input.ref, self.state.run_id, command, scope, tainted, child)
            result: dict[str, Any] = await workflow.execute_local_activity(
                ATTEMPT_ACTIVITY, data, start_to_close_timeout=CHILD_STAGE_TIMEOUT
            )
            return result

        prepared = await stage("prepare")
        if "outcome" in prepared:  # the input did not render
            return outcome_from_json(prepared["outcome"])
        assert step.workflow is not None and command.child_run_id is not None
        child = await self._run_child(
            step, step.workflow, command.child_run_id, prepared["prepared"]
        )
        ended = {"status": child.status, "result": child.result, "message": child.message}
        outcome = outcome_from_json((await stage(ended))["outcome"])
        return dataclasses.replace(outcome, latency_ms=self._now() - started)

    async def _run_child(
        self, step: Step, name: str, child_run_id: str, inputs: JSON
    ) -> ChildResult:
        """Run sub-workflow `name` as a child workflow and wait for it (as local does)."""
        try:
            child = CATALOG.child(self._input.ref, name)
        except KeyError:
            return ChildResult("failed", message=f"unknown workflow '{name}'")
        if child.inputs_schema is not None:
            issues = validate(child.inputs_schema, inputs)
            if issues:
                where = issues[0].pointer or "(root)"
                return ChildResult(
                    "failed", message=f"invalid input at {where}: {issues[0].message}"
                )
        request = RunInput(
            run_id=child_run_id,
            ref=self._input.ref.child(name),
            pin=workflow_pin(child),
            spec=child.spec_path,
            inputs=inputs,
            parent={"run_id": self.state.run_id, "step": step.id},
            heartbeat_ms=self._input.heartbeat_ms,
            trace_id=self._trace_id,
        )
        try:
            log = await workflow.execute_child_workflow(
                WORKFLOW_TYPE,
                request.to_json(),
                id=child_run_id,
                parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
                result_type=list,
            )
        except ChildWorkflowError as error:
            return ChildResult("failed", message=str(error.cause or error))
        state = fold([event_from_json(event) for event in log])
        return ChildResult(state.status, state.result, str((state.error or {}).get("message", "")))

    def _live(self, command: cmd.StartAttempt) -> bool:
        # a producer's attempt, or a review loop's reviewer's
        return review.live(self.state.steps[command.step], command)

    # -- decisions and reads

    @workflow.update(name=DECISION_UPDATE)
    def decision(self, request: dict[str, Any]) -> str:
        """Record an approval, a rejection or a cancel (`kind`, `step`, `principal`,
        `comment`, `channel`); the run's loop acts on it at once."""
        self._emit(self._decision_event(request))
        self._poked = True
        return "applied"

    @decision.validator
    def _check_decision(self, request: dict[str, Any]) -> None:
        self._decision_event(request)

    def _decision_event(self, request: dict[str, Any]) -> ev.EventBody:
        try:
            return decision_event(
                self.state,
                str(request.get("kind", "")),
                request.get("step"),
                request.get("principal"),
                request.get("comment"),
                request.get("channel"),
                request.get("shown_sha256"),
            )
        except DecisionRefused as refusal:
            raise ApplicationError(
                str(refusal), type="DecisionRefused", non_retryable=True
            ) from None

    @workflow.update(name=RECORD_UPDATE)
    def record(self, request: dict[str, Any]) -> str:
        """Record the delegation events of a live attempt (sent by its activity, which
        waits for this to be durable before it calls the delegate)."""
        for body in self._recordable(request):
            self._emit(body)
            if isinstance(body, ev.DelegationCompleted):
                completed = self._delegations.setdefault(body.step, {})
                completed[body.idempotency_key] = [body.output, body.checksum]
            elif isinstance(body, ev.ToolCallCompleted):  # reused by a later attempt
                completed = self._delegations.setdefault(body.step, {})
                completed[body.key] = [body.result, body.checksum]
        return "recorded"

    @record.validator
    def _check_record(self, request: dict[str, Any]) -> None:
        self._recordable(request)

    def _recordable(self, request: dict[str, Any]) -> list[ev.EventBody]:
        step, attempt = str(request.get("step")), request.get("attempt")
        record = self.state.steps.get(step)
        flight = self._in_flight.get(step)
        live = (
            record is not None
            and self.state.outcome is None
            and step not in self._lost
            and flight is not None
            and flight.attempt == attempt
            and self._live(cmd.StartAttempt(step, int(attempt or 0), "", "", False))
        )
        if not live:
            raise ApplicationError(
                f"attempt {attempt} of step '{step}' is over", type="AttemptOver"
            )
        bodies = [body_from_json(event) for event in request.get("events") or []]
        for body in bodies:
            where = (getattr(body, "step", None), getattr(body, "attempt", None))
            if body.TYPE not in _DELEGATION_EVENTS or where != (step, attempt):
                raise ApplicationError(f"not a delegation of attempt {attempt} of '{step}'")
        return bodies

    @workflow.query(name=STATE_QUERY)
    def state_json(self) -> dict[str, JSON]:
        """The materialized state: `baton show --json`."""
        return self.state.to_json()

    @workflow.query(name=EVENTS_QUERY)
    def events_json(self, after_seq: int = 0) -> list[dict[str, JSON]]:
        """The log after event `after_seq`: `baton events --json`."""
        return [event.to_json() for event in self._events[max(after_seq, 0) :]]

    # -- the log

    @property
    def state(self) -> RunState:
        assert self._state is not None, "run_started is emitted at init"
        return self._state

    def _emit(self, body: ev.EventBody) -> None:
        """Append an event to the run's log and apply it (durable with this task)."""
        seq = 1 if self._state is None else self._state.last_seq + 1
        event = ev.Event(seq, self._input.run_id, self._now(), self._trace_id, body)
        self._state = apply(self._state, event)
        self._events.append(event)
        self._notices.observe(event)

    def _record_notices(self) -> None:
        """Record finished notifications, and start those the log opened since."""
        for body in self._notices.take():
            self._emit(body)
        self._notices.start()

    def _now(self) -> int:
        return int(workflow.now().timestamp() * 1000)


def _arrival(command: cmd.StartAttempt | StartItem, task: asyncio.Task[Any]) -> _Arrival:
    """Classify a finished attempt task (called on the workflow's own event loop)."""
    try:
        result = task.result()
    except ActivityError as error:
        cause = error.cause
        if isinstance(cause, TemporalTimeout) and cause.type in _BATON_TIMEOUTS:
            return _Arrival(command, task, timed_out=True)
        if isinstance(cause, TemporalTimeout | CancelledError) or _worker_shutdown(cause):
            return _Arrival(command, task, lost=True)  # its worker died or shut down
        return _Arrival(command, task, outcome=_internal_error(command, str(cause or error)))
    except asyncio.CancelledError:
        return _Arrival(command, task, lost=True)
    except Exception as error:  # a bug in a child attempt: as local, an agent error
        return _Arrival(command, task, outcome=_internal_error(command, repr(error)))
    if isinstance(result, AttemptOutcome):  # a sub-workflow step's
        return _Arrival(command, task, outcome=result)
    return _Arrival(command, task, outcome=outcome_from_json(result["outcome"]))


def _worker_shutdown(cause: BaseException | None) -> bool:
    """The SDK's failure for an attempt its worker gave up on while shutting down (or
    took from the queue while draining it)."""
    if not isinstance(cause, ApplicationError):
        return False
    return cause.type == "WorkerShutdown" or cause.message == "Worker shutting down"


def _internal_error(command: cmd.StartAttempt | StartItem, message: str) -> AttemptOutcome:
    return AttemptOutcome(
        step=command.step,
        attempt=command.attempt,
        latency_ms=0,
        failure=FailureClass.AGENT_ERROR,
        message=f"internal error: {message}",
        received=False,
    )


_DELEGATION_EVENTS = frozenset(
    {
        ev.DelegationRequested.TYPE,
        ev.DelegationDenied.TYPE,
        ev.DelegationCompleted.TYPE,
        ev.DelegationFailed.TYPE,
        # an llm agent's tool calls travel the same way (runtime.tools)
        ev.ToolCallStarted.TYPE,
        ev.ToolCallCompleted.TYPE,
        ev.ToolCallFailed.TYPE,
    }
)


def _earliest(*times: int | None) -> int | None:
    known = [at for at in times if at is not None]
    return min(known) if known else None


def _retry_due(state: RunState) -> int | None:
    """When the next retry falls due: the only timer the loop needs (an attempt's
    deadline is its activity's timeout)."""
    due = [
        record.retry_due_ms
        for record in state.steps.values()
        if record.state is StepState.RETRYING and record.retry_due_ms is not None
    ]
    return min(due) if due else None
