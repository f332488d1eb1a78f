"""`apply(state, event) -> state`: fold one event into a run's state. Pure.

Every change of a step's state goes through the lifecycle table (`runtime.lifecycle`):
a move the table does not allow, or a trigger the step was not compiled with, raises
`IllegalTransition`. The driver only appends events the core decided, so an illegal
move is a bug (or a tampered log), never a user error.
"""

from __future__ import annotations

from baton.runtime.core import approvals, review, tool_approvals
from baton.runtime.core import events as ev
from baton.runtime.core.budget import scope_of
from baton.runtime.core.index import carry
from baton.runtime.core.state import (
    CANCELLED,
    FAILED,
    SUCCEEDED,
    ApprovalRecord,
    RunState,
    StepRecord,
    UsageTotals,
    evolve,
)
from baton.runtime.lifecycle import TRIGGERS
from baton.runtime.model import JSON, BudgetMode, FailureClass, StepState

# the states an open attempt is in: a producer's, or a review loop's reviewer's
_ATTEMPTING = (StepState.RUNNING, StepState.REVIEWING)


class IllegalTransition(RuntimeError):
    """An event the run's state does not allow: a bug in a driver, or a tampered log."""


def fold(events: list[ev.Event]) -> RunState:
    """The state a whole log yields (a log starts with `run_started`)."""
    state: RunState | None = None
    for event in events:
        state = apply(state, event)
    if state is None:
        raise IllegalTransition("an empty event log has no state")
    return state


def apply(state: RunState | None, event: ev.Event) -> RunState:
    """The state after `event`; `state` is None only before `run_started`."""
    body = event.body
    if isinstance(body, ev.RunStarted):
        if state is not None:
            raise IllegalTransition(f"run '{event.run_id}' was already started")
        return _started(event, body)
    if state is None:
        raise IllegalTransition(f"'{event.type}' before 'run_started'")
    if event.seq != state.last_seq + 1 or event.run_id != state.run_id:
        raise IllegalTransition(
            f"event {event.run_id}#{event.seq} does not follow {state.run_id}#{state.last_seq}"
        )
    if isinstance(body, ev.RunRedriven):
        state = evolve(state, last_seq=event.seq, updated_ms=event.ts)
        return _redriven(state, body)
    if isinstance(body, ev.NOTIFICATION_EVENTS):
        # a delivery record moves nothing, and may come after the run's end
        return evolve(state, last_seq=event.seq)
    if state.outcome is not None:
        raise IllegalTransition(f"'{event.type}' after the run ended ({state.outcome})")
    state = evolve(state, last_seq=event.seq, updated_ms=event.ts)
    return _apply_body(state, event.ts, body)


def _apply_body(state: RunState, ts: int, body: ev.EventBody) -> RunState:
    if isinstance(body, ev.MAP_EVENTS):  # a map step's (runtime.core.mapping)
        from baton.runtime.core.mapping import apply_map

        return apply_map(state, ts, body)
    match body:
        case ev.RunResumed():
            steps = {
                step: evolve(record, interrupted=True)
                # a reviewer's open attempt too (runtime.core.review)
                if record.state in _ATTEMPTING and record.attempt_open
                else record
                for step, record in state.steps.items()
            }
            return evolve(
                state, steps=steps, spec_sha256=body.spec_sha256, resumes=state.resumes + 1
            )
        case ev.CancelRequested():
            return evolve(state, cancel_requested=True)
        case ev.RunSucceeded():
            unfinished = state.active_steps()
            if unfinished:
                raise IllegalTransition(f"run succeeded with unfinished steps {unfinished}")
            return evolve(state, outcome=SUCCEEDED, finished_ms=ts)
        case ev.RunFailed():
            error: dict[str, JSON] = {
                "step": body.step,
                "failure": body.failure,
                "message": body.message,
            }
            return _end(state, ts, FAILED, error)
        case ev.RunCancelled():
            return _end(state, ts, CANCELLED, None)
        case ev.ApprovalRequested():
            trigger = "request_approval" if body.stage == "before" else "request_review"
            record = _move(state, body.step, trigger)
            approval = ApprovalRecord(body.role, body.stage, ts)
            return _put(state, body.step, evolve(record, approval=approval))
        case ev.ApprovalGranted():
            record = _decided(_decidable(state, body.step), "granted", body, ts)
            if tool_approvals.is_tool(record.approval):
                record = tool_approvals.decided(record, body)
            return _put(state, body.step, record)
        case ev.ApprovalRejected() if tool_approvals.is_tool(_record(state, body.step).approval):
            # a refused tool call is not made, and the model is told (runtime.tools):
            # the step goes on, its attempt run again with the decision
            record = _decided(_decidable(state, body.step), "rejected", body, ts)
            return _put(state, body.step, tool_approvals.decided(record, body))
        case ev.ApprovalRejected():
            _decidable(state, body.step)
            record = _decided(_move(state, body.step, "fail"), "rejected", body, ts)
            message = f"rejected by {body.principal}" + (
                f": {body.comment}" if body.comment else ""
            )
            error = {"failure": FailureClass.REJECTED.value, "message": message}
            return _put(state, body.step, evolve(record, error=error, finished_ms=ts))
        case ev.ApprovalVoided() if body.stage == tool_approvals.TOOL_STAGE:
            # a grant the re-run attempt did not use, before its next request
            record = _open_attempt(state, body.step, _record(state, body.step).attempts)
            try:
                return _put(state, body.step, tool_approvals.voided(record, body))
            except ValueError as problem:
                raise IllegalTransition(f"step '{body.step}': {problem}") from None
        case ev.ApprovalVoided():
            record = _record(state, body.step)
            if record.approval is None or record.approval.decision != "granted":
                raise IllegalTransition(f"step '{body.step}' has no grant to void")
            return _put(state, body.step, approvals.voided(record, ts))
        case ev.ApprovalTimedOut():
            record = _decidable(state, body.step)
            return _put(state, body.step, approvals.timed_out(record))
        case ev.ApprovalEscalated():
            record = _decidable(state, body.step)
            assert record.approval is not None
            if not record.approval.timed_out:
                raise IllegalTransition(f"step '{body.step}': escalation before a timeout")
            return _put(state, body.step, approvals.escalated(record, body, ts))
        case ev.AttemptStarted():
            return _put(state, body.step, _attempt_started(state, body, ts))
        case ev.OutputReceived():
            record = _open_attempt(state, body.step, body.attempt)
            record = evolve(record, latency_ms=body.latency_ms, usage=record.usage.plus(body.usage))
            return _spent(_put(state, body.step, record), record.agent, body.usage)
        case ev.OutputRejected():
            record = _open_attempt(state, body.step, body.attempt)
            error = {
                "failure": body.failure,
                "message": body.message,
                "errors": list(body.errors),
                "attempt": body.attempt,
            }
            record = evolve(
                record, attempt_open=False, error=error, quality_score=body.quality_score
            )
            if body.reply is not None:
                repair = _repair(body.attempt, body.reply, list(body.errors), parsed=True)
                record = evolve(record, repairs=(*record.repairs, repair))
            return _put(state, body.step, record)
        case ev.AttemptFailed():
            record = _open_attempt(state, body.step, body.attempt)
            failed: dict[str, JSON] = {
                "failure": body.failure,
                "message": body.message,
                "attempt": body.attempt,
            }
            if body.traceback:
                failed["traceback"] = body.traceback
            if not body.retryable:
                failed["retryable"] = False
            record = evolve(
                record,
                attempt_open=False,
                error=failed,
                latency_ms=body.latency_ms,
                usage=record.usage.plus(body.usage),
            )
            if body.reply is not None:
                reason = [{"pointer": "", "message": body.message}]
                repair = _repair(body.attempt, body.reply, reason, parsed=False)
                record = evolve(record, repairs=(*record.repairs, repair))
            return _spent(_put(state, body.step, record), record.agent, body.usage)
        case ev.RetryScheduled():
            record = _move(state, body.step, "schedule_retry")
            if record.attempt_open or body.attempt != record.attempts + 1:
                raise IllegalTransition(f"retry of step '{body.step}' while an attempt is open")
            return _put(state, body.step, evolve(record, retry_due_ms=body.due_ms))
        case ev.FallbackStarted():
            record = _move(state, body.step, "fall_back")
            if record.attempt_open or body.attempt != record.attempts + 1:
                raise IllegalTransition(f"fallback of step '{body.step}' while an attempt is open")
            if body.index <= record.fallback:
                raise IllegalTransition(f"step '{body.step}': fallback {body.index} out of order")
            record = evolve(
                record,
                fallback=body.index,
                attempt_base=record.attempts,  # a fresh attempt budget
                retry_due_ms=ts,  # its first attempt is due at once
            )
            return _put(state, body.step, record)
        case ev.ReviewStarted():
            return _put(state, body.step, _review_started(state, body, ts))
        case ev.ReviewPassed() | ev.RevisionRequested() | ev.ReviewExhausted() | ev.ReviewFailed():
            return _review_ended(state, body, ts)
        case ev.StepValidated():
            _open_attempt(state, body.step, body.attempt)
            record = evolve(
                _move(state, body.step, "validate"),
                attempt_open=False,
                output=body.output,
                checksum=body.checksum,
                quality_score=body.quality_score,
                untrusted_sources=body.untrusted_sources,
                error=None,
            )
            return _put(state, body.step, record)
        case ev.StepCommitted():
            return _put(state, body.step, _committed(state, body, ts))
        case ev.StepSkipped():
            record = _move(state, body.step, "skip")
            return _put(
                state,
                body.step,
                evolve(record, skip_reason=body.reason, finished_ms=ts),
            )
        case ev.RouteSelected():
            record = _record(state, body.step)
            if record.state is not StepState.PENDING or record.route is not None:
                raise IllegalTransition(f"step '{body.step}' was already routed or started")
            choice: dict[str, JSON] = {"case": body.case}
            if body.case:
                choice.update(kind=body.kind, target=body.target)
            return _put(state, body.step, evolve(record, route=choice))
        case ev.StepFailed():
            # a routed step no case matched fails before any attempt: its own move
            trigger = "no_route" if body.failure == FailureClass.NO_ROUTE.value else "fail"
            record = _move(state, body.step, trigger)
            error = dict(record.error or {})
            error.update(failure=body.failure, message=body.message)
            record = evolve(record, attempt_open=False, error=error, finished_ms=ts)
            return _put(state, body.step, record)
        case ev.DelegationRequested() | ev.DelegationDenied() | ev.DelegationFailed():
            _open_attempt(state, body.step, body.attempt)  # only while its attempt runs
            return state
        case ev.ToolCallStarted() | ev.ToolCallCompleted() | ev.ToolCallFailed():
            _open_attempt(state, body.step, body.attempt)  # the log's; the state keeps none
            return state
        case ev.ToolApprovalRequested():
            _open_attempt(state, body.step, body.attempt)
            record = _move(state, body.step, "await_tool_approval")
            record = tool_approvals.requested(record, body, ts)
            return _spent(_put(state, body.step, record), record.agent, body.usage)
        case ev.DelegationCompleted():
            record = _open_attempt(state, body.step, body.attempt)
            # what the delegate cost is part of what the step cost
            state = _put(state, body.step, evolve(record, usage=record.usage.plus(body.usage)))
            return _spent(state, body.agent, body.usage)
        case ev.BudgetExceeded():
            _record(state, body.step)
            crossing = f"{scope_of(body.agent)}.{body.measure}"
            crossed = state.budget_crossed
            if crossing not in crossed:
                crossed = (*crossed, crossing)
            if body.mode != BudgetMode.ENFORCE.value:
                return evolve(state, budget_crossed=crossed)
            wait: dict[str, JSON] = {
                "step": body.step,
                "cap": body.cap,
                "agent": body.agent,
                "measure": body.measure,
                "spent": body.spent,
                "limit": body.limit,
            }
            return evolve(state, budget_crossed=crossed, budget_wait=wait)
        case ev.BudgetRaised():
            scope = scope_of(body.agent)
            if scope not in state.budgets:
                raise IllegalTransition(f"budget raised for {scope}, which has no budget")
            cap = {**state.budgets[scope], "usd": body.usd, "tokens": body.tokens}
            # a raised cap can be crossed (and recorded) again
            crossed = tuple(c for c in state.budget_crossed if not c.startswith(f"{scope}."))
            return evolve(
                state,
                budgets={**state.budgets, scope: cap},
                budget_crossed=crossed,
                budget_wait=None,
            )
    raise IllegalTransition(f"no rule for event '{body.TYPE}'")


def _started(event: ev.Event, body: ev.RunStarted) -> RunState:
    if event.seq != 1:
        raise IllegalTransition(f"run_started must be event 1, not {event.seq}")
    return RunState(
        run_id=event.run_id,
        workflow=body.workflow,
        version=body.version,
        spec_sha256=body.spec_sha256,
        spec=body.spec,
        trace_id=event.trace_id,
        inputs=body.inputs,
        plan=body.steps,
        triggers=body.triggers,
        gates=body.gates,
        shape=body.shape,
        result_step=body.result_step,
        parent=body.parent,
        steps=dict.fromkeys(body.steps, _BLANK),
        budgets=body.budgets,
        started_ms=event.ts,
        updated_ms=event.ts,
        last_seq=1,
    )


# every step's record at the start: one value (records are immutable), so that storing
# a new run's state serializes a blank record once, not once per step
_BLANK = StepRecord()


def _redriven(state: RunState, body: ev.RunRedriven) -> RunState:
    """A failed run goes on: `body.steps` back to pending, each with a fresh attempt
    budget; what they did before (attempt numbers, key, usage) is kept."""
    if state.outcome != FAILED:
        raise IllegalTransition(f"only a failed run can be redriven, not a {state.status} one")
    if not body.steps:
        raise IllegalTransition("a redrive of no step")
    steps = dict(state.steps)
    for step in body.steps:
        record = _record(state, step)
        # the table's move; runs started before `redrive` existed did not list it
        if record.state not in TRIGGERS["redrive"].sources:
            raise IllegalTransition(f"step '{step}' cannot be redriven from '{record.state.value}'")
        steps[step] = evolve(
            _BLANK,
            attempts=record.attempts,
            attempt_base=record.attempts,
            restarts=record.restarts,
            idempotency_key=record.idempotency_key,
            external=record.external,
            usage=record.usage,
            agent=record.agent,
        )
    return evolve(
        state,
        steps=steps,
        outcome=None,
        error=None,
        finished_ms=None,
        redrives=state.redrives + 1,
    )


def _end(state: RunState, ts: int, outcome: str, error: dict[str, JSON] | None) -> RunState:
    """A failed or cancelled run cancels every step still in motion (fail-fast)."""
    steps = dict(state.steps)
    for step in state.active_steps():
        record = _move(state, step, "cancel")
        steps[step] = evolve(record, attempt_open=False, finished_ms=ts)
    return evolve(state, steps=steps, outcome=outcome, error=error, finished_ms=ts)


def _record(state: RunState, step: str | None) -> StepRecord:
    if step is None or step not in state.steps:
        raise IllegalTransition(f"unknown step '{step}' in run '{state.run_id}'")
    return state.steps[step]


def _move(state: RunState, step: str, trigger: str) -> StepRecord:
    """The step's record moved by `trigger`, if the lifecycle and the step allow it."""
    record = _record(state, step)
    transition = TRIGGERS[trigger]
    if trigger not in state.triggers.get(step, ()):
        raise IllegalTransition(f"step '{step}' has no '{trigger}' transition")
    if record.state not in transition.sources:
        raise IllegalTransition(
            f"step '{step}' cannot '{trigger}' from '{record.state.value}' "
            f"(only from {', '.join(s.value for s in transition.sources)})"
        )
    return evolve(record, state=transition.dest)


def _put(state: RunState, step: str, record: StepRecord) -> RunState:
    after = evolve(state, steps={**state.steps, step: record})
    carry(state, after, ((step, record),))  # the step index moves with it: O(1)
    return after


def _open_attempt(state: RunState, step: str, attempt: int) -> StepRecord:
    record = _record(state, step)
    if record.state is not StepState.RUNNING or not record.attempt_open:
        raise IllegalTransition(f"step '{step}' has no open attempt")
    if attempt != record.attempts:
        raise IllegalTransition(f"step '{step}': attempt {attempt} is not the open one")
    return record


def _attempt_started(state: RunState, body: ev.AttemptStarted, ts: int) -> StepRecord:
    if body.restart and _record(state, body.step).state is StepState.AWAITING_APPROVAL:
        # an attempt that waited for a decision on a tool call runs again
        try:
            return tool_approvals.restarted(_move(state, body.step, "start"), body, ts)
        except ValueError as error:
            raise IllegalTransition(f"step '{body.step}': {error}") from None
    if body.restart:
        # an interrupted attempt run again: same number and key, no lifecycle move
        record = _open_attempt(state, body.step, body.attempt)
        if not record.interrupted:
            raise IllegalTransition(f"step '{body.step}': restart of a live attempt")
        return evolve(record, interrupted=False, restarts=record.restarts + 1, started_ms=ts)
    record = _move(state, body.step, "start")
    if body.attempt != record.attempts + 1:
        raise IllegalTransition(f"step '{body.step}': attempt {body.attempt} out of order")
    return evolve(
        record,
        agent=body.agent,
        attempts=body.attempt,
        attempt_open=True,
        idempotency_key=body.idempotency_key,
        external=body.external,
        started_ms=ts,
        retry_due_ms=None,
        child_run_id=body.child_run_id,
        tool_decisions=(),  # decisions bind one attempt's calls (their subject says which)
    )


def _review_started(state: RunState, body: ev.ReviewStarted, ts: int) -> StepRecord:
    record = _record(state, body.step)
    if body.restart:
        if record.state is not StepState.REVIEWING or not record.interrupted:
            raise IllegalTransition(f"step '{body.step}': restart of a live review")
    else:
        record = _move(state, body.step, "start_review")
    if body.attempt != record.attempts:
        raise IllegalTransition(f"step '{body.step}': review of attempt {body.attempt}")
    try:
        return evolve(record, **review.started(record, body, ts))
    except ValueError as error:
        raise IllegalTransition(f"step '{body.step}': {error}") from None


def _review_ended(state: RunState, body: ev.EventBody, ts: int) -> RunState:
    """A reviewer's verdict (or its failure) for the open review of the step."""
    step = str(getattr(body, "step", ""))
    record = _record(state, step)
    if record.state is not StepState.REVIEWING or not record.attempt_open:
        raise IllegalTransition(f"step '{step}' has no open review")
    if getattr(body, "attempt", None) != record.attempts:
        raise IllegalTransition(f"step '{step}': a verdict for another attempt")
    trigger = review.TRIGGER.get(type(body))
    moved = _move(state, step, trigger) if trigger is not None else record
    try:
        changes = review.ended(record, body, ts)
    except ValueError as error:
        raise IllegalTransition(f"step '{step}': {error}") from None
    usage: dict[str, JSON] = getattr(body, "usage", {})
    moved = evolve(moved, usage=moved.usage.plus(usage), **changes)
    reviewer = (record.review or {}).get("reviewer")
    return _spent(_put(state, step, moved), str(reviewer) if reviewer else None, usage)


def _spent(state: RunState, agent: str | None, usage: dict[str, JSON]) -> RunState:
    """`state` with `usage` added to what `agent` spent (nothing to add: unchanged, so
    agents that report no usage cost the fold nothing)."""
    if agent is None or not (
        usage.get("tokens_in") or usage.get("tokens_out") or usage.get("cost_usd")
    ):
        return state
    totals = state.agent_usage.get(agent, UsageTotals()).plus(usage)
    return evolve(state, agent_usage={**state.agent_usage, agent: totals})


def _decidable(state: RunState, step: str) -> StepRecord:
    record = _record(state, step)
    waiting = record.state in (StepState.AWAITING_APPROVAL, StepState.AWAITING_REVIEW)
    if not waiting or record.approval is None or record.approval.decision is not None:
        raise IllegalTransition(f"step '{step}' is not waiting for a decision")
    return record


def _decided(
    record: StepRecord, decision: str, body: ev.ApprovalGranted | ev.ApprovalRejected, ts: int
) -> StepRecord:
    assert record.approval is not None
    approval = evolve(
        record.approval,
        decision=decision,
        principal=body.principal,
        comment=body.comment,
        decided_ms=ts,
        channel=body.channel or None,
        shown_sha256=body.shown_sha256 or None,
    )
    return evolve(record, approval=approval)


def _committed(state: RunState, body: ev.StepCommitted, ts: int) -> StepRecord:
    record = _record(state, body.step)
    if record.state is StepState.COMMITTED and record.idempotency_key == body.idempotency_key:
        # committed once per key: a second commit is dropped (and counted, so it shows)
        return evolve(record, dropped_commits=record.dropped_commits + 1)
    if body.checksum != record.checksum or body.idempotency_key != record.idempotency_key:
        raise IllegalTransition(f"step '{body.step}': commit does not match the validated output")
    return evolve(_move(state, body.step, "commit"), finished_ms=ts)


def _repair(
    attempt: int, reply: str, errors: list[dict[str, str]], *, parsed: bool
) -> dict[str, JSON]:
    """One rejected model reply, as `StepRecord.repairs` keeps it."""
    listed: list[JSON] = [dict(error) for error in errors]
    return {"attempt": attempt, "reply": reply, "errors": listed, "parsed": parsed}
