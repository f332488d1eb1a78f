"""`decide(workflow, state, now_ms) -> [command]`: what a run should do next. Pure.

No I/O, no clock (`now_ms` is an argument), no randomness. Called after every batch
of events; it looks at the steps that can move (`runtime.core.index`) in plan order, so
the same state always yields the same commands in the same order. A command is issued
once: its event moves the step, so the next call does not issue it again.

Order of concerns: a run that must end (cancel requested, a step failed: fail-fast)
ends first; then each step advances by its state; a run whose steps are all committed
or skipped succeeds.
"""

from __future__ import annotations

from baton.runtime.canonical import attempt_id, idempotency_key
from baton.runtime.core import commands as cmd
from baton.runtime.core import review, route
from baton.runtime.core.approvals import WAITING as WAITING_FOR_PEOPLE
from baton.runtime.core.approvals import advance as advance_gate
from baton.runtime.core.budget import admit
from baton.runtime.core.decisions import run_end
from baton.runtime.core.index import index_of
from baton.runtime.core.mapping import advance as advance_map
from baton.runtime.core.mapping import begin as begin_map
from baton.runtime.core.state import RunState, StepRecord
from baton.runtime.core.tool_approvals import is_tool
from baton.runtime.model import NEVER_RETRIED, Effect, FailureClass, Step, StepState, Workflow

S = StepState


def decide(workflow: Workflow, state: RunState, now_ms: int) -> list[cmd.Command]:
    """The commands that move `state` on, then a `Wait` if a timer is pending."""
    if state.outcome is not None:
        return []
    ending = run_end(state)
    if ending is not None:
        return [ending]
    commands: list[cmd.Command] = []
    wake_at: int | None = None
    steps = steps_by_id(workflow)
    records = state.steps
    crossings: set[str] = set()  # budget crossings recorded by this call
    held = False  # an enforced budget holds back the attempts not yet started
    index = index_of(state)
    # only the steps that can move (in motion, or pending with their needs settled),
    # in plan order: the index `apply` keeps, so a call costs what the run has in
    # motion, not its length
    for step_id in index.candidates():
        step, record = steps[step_id], records[step_id]
        # a gate's binding to what was shown, its timeout (runtime.core.approvals)
        gated = record.approval is not None and record.state in WAITING_FOR_PEOPLE
        people = advance_gate(workflow, state, step, record, now_ms) if gated else None
        found, due = people if people is not None else _advance(state, step, record, now_ms)
        if isinstance(found, cmd.FinishRun):
            return [found]  # a condition could not be evaluated: the run cannot go on
        if isinstance(found, cmd.StartAttempt) and state.budgets and not found.restart:
            # an enforced cap holds back every start after it, until a raise
            admitted, exceeded = (False, []) if held else admit(state, found, crossings)
            commands.extend(exceeded)
            if not admitted:
                held, found = True, None
        if found is not None:
            commands.append(found)
        if due is not None:
            wake_at = due if wake_at is None else min(wake_at, due)
    if not commands and index.finished() == len(state.plan):
        return [cmd.FinishRun("succeeded", result_step=state.result_step)]
    if wake_at is not None:
        commands.append(cmd.Wait(wake_at))
    return commands


def steps_by_id(workflow: Workflow) -> dict[str, Step]:
    """The workflow's steps by id, built once per workflow object (decide runs often)."""
    known = _INDEX.get(id(workflow))
    if known is None or known[0] is not workflow:
        known = (workflow, {step.id: step for step in workflow.steps})
        if len(_INDEX) > 64:
            _INDEX.clear()
        _INDEX[id(workflow)] = known
    return known[1]


# id -> (the workflow, kept alive so its id is not reused; its index)
_INDEX: dict[int, tuple[Workflow, dict[str, Step]]] = {}


def _advance(
    state: RunState, step: Step, record: StepRecord, now_ms: int
) -> tuple[cmd.Command | None, int | None]:
    """(the command that moves this step, or None; when a timer of its falls due)."""
    gate = state.gates.get(step.id)
    match record.state:
        case S.PENDING:
            return _ready(state, step, gate), None
        case S.AWAITING_APPROVAL:
            if is_tool(record.approval):
                # a decided tool call: its attempt runs again (core.tool_approvals)
                if record.approval.decision is None:
                    return None, None
                return _start(state, step, record.attempts, restart=True), None
            if record.approval is not None and record.approval.decision == "granted":
                return _start(state, step, record.attempts + 1), None
            return None, None
        case S.RUNNING:
            if step.map is not None:  # its items move it (runtime.core.mapping)
                return advance_map(state, step, record, now_ms)
            return _running(state, step, record, now_ms)
        case S.RETRYING:
            due = record.retry_due_ms or 0
            if now_ms >= due:
                return _start(state, step, record.attempts + 1), None
            return None, due
        case S.VALIDATED:
            if step.review is not None:
                held, command = review.at_validated(state, step, record, _key(state, step))
                if held:
                    return command, None
            if gate is not None and gate["stage"] == "after":
                return cmd.RequestApproval(step.id, str(gate["role"]), "after"), None
            return _commit(step, record), None
        case S.REVIEWING:
            return review.at_reviewing(state, step, record, _key(state, step), now_ms)
        case S.AWAITING_REVIEW:
            if record.approval is not None and record.approval.decision == "granted":
                return _commit(step, record), None
            return None, None
    return None, None


def _ready(state: RunState, step: Step, gate: dict[str, object] | None) -> cmd.Command | None:
    """A pending step: skipped, gated, started, or still waiting for its needs."""
    # one pass (decide runs after every batch, over every pending step): the first
    # skipped need skips the step; else any need not yet committed keeps it waiting
    waiting = False
    for need in step.needs:
        need_state = state.steps[need].state
        if need_state is S.SKIPPED:
            return cmd.SkipStep(step.id, f"needs '{need}', which was skipped")
        waiting = waiting or need_state is not S.COMMITTED
    if waiting:
        return None
    if step.condition is not None:
        from baton.runtime.render import RenderError, evaluate_condition

        try:
            holds = evaluate_condition(step.condition, state.scope())
        except RenderError as error:
            return cmd.FinishRun(
                "failed",
                step=step.id,
                failure="condition_error",
                message=f"step '{step.id}': cannot evaluate if: {step.condition.source}: {error}",
            )
        if not holds:
            return cmd.SkipStep(step.id, f"if: {step.condition.source} is false")
    if step.route:  # a routed step: its runner is chosen now, once (runtime.core.route)
        routing = _route(state, step)
        if routing is not None:
            return routing
    if gate is not None and gate["stage"] == "before":
        return cmd.RequestApproval(step.id, str(gate["role"]), "before")
    # a redriven step goes on numbering its attempts (attempt ids stay unique)
    return _start(state, step, state.steps[step.id].attempts + 1)


def _route(state: RunState, step: Step) -> cmd.Command | None:
    """A routed step's choice to record, or its `no_route` failure; None once chosen."""
    record = state.steps[step.id]
    if record.route is None:
        try:
            return route.select(step, state.scope())
        except route.RouteError as error:
            return cmd.FinishRun(
                "failed",
                step=step.id,
                failure="condition_error",
                message=f"step '{step.id}': {error}",
            )
    return route.unmatched(step, record)


def _running(
    state: RunState, step: Step, record: StepRecord, now_ms: int
) -> tuple[cmd.Command | None, int | None]:
    if record.attempt_open:
        if record.interrupted:
            return _start(state, step, record.attempts, restart=True), None
        routed = step.route and route.routed_workflow(step, record) is not None
        if step.workflow is not None or routed:
            return None, None  # a child run: its own steps have the timeouts
        deadline = (record.started_ms or 0) + step.timeout_ms
        if now_ms >= deadline:
            return cmd.TimeoutAttempt(step.id, record.attempts, step.timeout_ms), None
        return None, deadline
    # the attempt failed: retry it, or the step fails
    error = record.error or {}
    failure = str(error.get("failure", ""))
    try:
        failure_class = FailureClass(failure)
    except ValueError:
        failure_class = FailureClass.AGENT_ERROR
    # an agent may know another try cannot help (a model's API refused the key)
    retryable = error.get("retryable", True) is not False
    # a redrive gives the step a fresh budget: only attempts since then count
    tries = record.attempts - record.attempt_base
    if retryable and step.retry.retries(failure_class, tries):
        return cmd.ScheduleRetry(step.id, record.attempts, step.retry, record.attempt_base), None
    fallback = _fallback(step, record, failure_class)
    if fallback is not None:
        index, agent = fallback
        return cmd.StartFallback(
            step.id,
            record.attempts,
            index,
            agent,
            failure,
            str(error.get("message", "")),
            previous_agent=record.agent,
        ), None
    message = str(error.get("message", ""))
    if tries > 1:
        message = f"{message} (after {tries} attempts)"
    return cmd.FailStep(step.id, failure, message), None


def _fallback(step: Step, record: StepRecord, failure: FailureClass) -> tuple[int, str] | None:
    """(1-based index, agent) of the next fallback that catches `failure`, if any: the
    entries after the one in use, in order; classes never retried are never caught."""
    if failure in NEVER_RETRIED:
        return None
    for index in range(record.fallback, len(step.fallbacks)):
        if failure in step.fallbacks[index].on:
            return index + 1, step.fallbacks[index].agent
    return None


def agent_of(step: Step, record: StepRecord | None) -> str | None:
    """Who runs `step`'s attempts now: its fallback in use, or its own (or routed) agent."""
    if record is not None and record.fallback and record.fallback <= len(step.fallbacks):
        return step.fallbacks[record.fallback - 1].agent
    return route.routed_agent(step, record) if step.route else step.agent


def _start(state: RunState, step: Step, attempt: int, restart: bool = False) -> cmd.Command:
    key = _key(state, step)
    if step.map is not None:  # a map step starts by resolving its list
        return begin_map(state, step, attempt, key)
    record = state.steps.get(step.id)
    workflow = route.routed_workflow(step, record) if step.route else step.workflow
    feedback: tuple[str, ...] = ()
    history = record.repairs if record is not None else ()
    if step.review is not None and record is not None:
        key, feedback = review.producer_call(state, key, record)  # the round's key
        history = (*review.revisions(record), *history)  # rounds sent back, then repairs
    return cmd.StartAttempt(
        step=step.id,
        attempt=attempt,
        idempotency_key=key,
        attempt_id=attempt_id(key, attempt),
        external=step.effect is Effect.EXTERNAL,
        restart=restart,
        child_run_id=child_run_id(state.run_id, step.id, attempt) if workflow else None,
        agent=agent_of(step, record),
        workflow=workflow if step.route else None,
        history=history,
        feedback=feedback,
        # a new attempt's calls are decided afresh (their subject names the attempt)
        tool_decisions=record.tool_decisions if record is not None and restart else (),
        tool_approvals="await_tool_approval" in state.triggers.get(step.id, ()),
    )


def _key(state: RunState, step: Step) -> str:
    # from the run's own record, so the key survives a compatible spec change
    return idempotency_key(state.workflow, state.version, state.run_id, step.id)


def _commit(step: Step, record: StepRecord) -> cmd.CommitStep:
    assert record.idempotency_key is not None and record.checksum is not None
    return cmd.CommitStep(step.id, record.attempts, record.idempotency_key, record.checksum)


def child_run_id(run_id: str, step: str, attempt: int) -> str:
    """The run a sub-workflow step's attempt drives: the same across restarts.

    >>> child_run_id("r1", "publish", 2)
    'r1:publish:2'
    """
    return f"{run_id}:{step}:{attempt}"
