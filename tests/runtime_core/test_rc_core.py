"""The pure core on its own: legal and illegal moves, retries, failure classes, gates,
skips, fail-fast, decisions. No database, no threads, no clock."""

from __future__ import annotations

import dataclasses

import pytest
from rc_workflows import CRASH, FAST_RETRY, REVIEWED, text_step, workflow

from baton.runtime.core import commands as cmd
from baton.runtime.core import events as ev
from baton.runtime.core.apply import IllegalTransition, apply
from baton.runtime.core.decide import decide
from baton.runtime.core.decisions import DecisionRefused, decision_event
from baton.runtime.core.plan import run_started, shape, shape_changes
from baton.runtime.core.state import RunState
from baton.runtime.model import FailureClass, RetryPolicy, StepState, Template, Workflow


def start(wf: Workflow, inputs: object = None) -> RunState:
    body = run_started(wf, inputs or {"topic": "tea"}, "pin", "spec.yaml")
    return apply(None, ev.Event(1, "r1", 1000, "trace", body))


def emit(state: RunState, body: ev.EventBody, ts: int = 1000) -> RunState:
    return apply(state, ev.Event(state.last_seq + 1, state.run_id, ts, state.trace_id, body))


def settle(wf: Workflow, state: RunState, now: int = 1000) -> tuple[RunState, list[cmd.Command]]:
    """Execute decide's commands (jitter 0.5) until it has nothing new; all it issued."""
    issued: list[cmd.Command] = []
    while True:
        actions = [c for c in decide(wf, state, now) if not isinstance(c, cmd.Wait)]
        if not actions:
            return state, issued
        for command in actions:
            body = cmd.event_for(command, now, 0.5)
            assert body is not None
            state = emit(state, body, now)
            issued.append(command)


def fail_attempt(state: RunState, step: str, failure: FailureClass) -> RunState:
    attempt = state.steps[step].attempts
    return emit(state, ev.AttemptFailed(step=step, attempt=attempt, failure=failure, message="x"))


def succeed(state: RunState, step: str, output: object = None) -> RunState:
    record = state.steps[step]
    assert record.idempotency_key is not None
    return emit(
        state,
        ev.StepValidated(
            step=step,
            attempt=record.attempts,
            idempotency_key=record.idempotency_key,
            checksum="c",
            output=output if output is not None else {"text": step},
        ),
    )


def test_a_run_starts_its_first_generation_in_parallel() -> None:
    state, issued = settle(CRASH, start(CRASH))
    assert [c.step for c in issued if isinstance(c, cmd.StartAttempt)] == ["fetch"]
    state, issued = settle(CRASH, succeed(state, "fetch"))
    started = [c for c in issued if isinstance(c, cmd.StartAttempt)]
    assert [c.step for c in started] == ["left", "right"]
    assert started[0].attempt_id == f"{started[0].idempotency_key}:1"
    assert state.steps["fetch"].state is StepState.COMMITTED


def test_retries_stop_at_max_attempts() -> None:
    wf = workflow("w", text_step("a", retry=FAST_RETRY))
    state, _ = settle(wf, start(wf))
    for attempt in (1, 2):
        state = fail_attempt(state, "a", FailureClass.AGENT_ERROR)
        state, issued = settle(wf, state)
        assert isinstance(issued[0], cmd.ScheduleRetry)
        assert state.steps["a"].state is StepState.RETRYING
        state, issued = settle(wf, state, now=10_000)  # past the backoff
        assert issued[0] == dataclasses.replace(issued[0], attempt=attempt + 1)
    state = fail_attempt(state, "a", FailureClass.AGENT_ERROR)
    state, issued = settle(wf, state)
    assert isinstance(issued[0], cmd.FailStep) and "after 3 attempts" in issued[0].message
    assert isinstance(issued[-1], cmd.FinishRun) and issued[-1].outcome == "failed"
    assert state.steps["a"].attempts == 3 and state.status == "failed"


@pytest.mark.parametrize(
    "failure", [FailureClass.ACL_DENIED, FailureClass.REJECTED, FailureClass.CANCELLED]
)
def test_never_retried_classes_fail_at_once(failure: FailureClass) -> None:
    every = RetryPolicy(max_attempts=5, on=tuple(FailureClass), initial_ms=1)
    wf = workflow("w", text_step("a", retry=every))
    state, _ = settle(wf, start(wf))
    state, issued = settle(wf, fail_attempt(state, "a", failure))
    assert isinstance(issued[0], cmd.FailStep) and issued[0].failure == failure.value
    assert state.steps["a"].attempts == 1


def test_a_class_not_listed_in_retry_on_is_not_retried() -> None:
    wf = workflow(
        "w", text_step("a", retry=RetryPolicy(max_attempts=3, on=(FailureClass.TIMEOUT,)))
    )
    state, _ = settle(wf, start(wf))
    state, issued = settle(wf, fail_attempt(state, "a", FailureClass.MALFORMED_OUTPUT))
    assert isinstance(issued[0], cmd.FailStep)


def test_backoff_waits_until_due_and_jitter_is_data() -> None:
    wf = workflow(
        "w", text_step("a", retry=RetryPolicy(max_attempts=2, on=(FailureClass.TIMEOUT,)))
    )
    state, _ = settle(wf, start(wf))
    state, _ = settle(wf, fail_attempt(state, "a", FailureClass.TIMEOUT))
    retry = state.steps["a"].retry_due_ms
    assert retry == 1000 + 1000  # initial 1 s, jitter sample 0.5 = no spread
    assert decide(wf, state, 1500) == [cmd.Wait(2000)]
    assert isinstance(decide(wf, state, 2000)[0], cmd.StartAttempt)


def test_an_attempt_times_out_at_its_deadline() -> None:
    wf = workflow("w", text_step("a", timeout_ms=500))
    state, _ = settle(wf, start(wf))
    assert decide(wf, state, 1499) == [cmd.Wait(1500)]
    [timeout] = decide(wf, state, 1500)
    assert timeout == cmd.TimeoutAttempt("a", 1, 500)


def test_fail_fast_cancels_the_steps_in_motion() -> None:
    state, _ = settle(CRASH, start(CRASH))
    state, _ = settle(CRASH, succeed(state, "fetch"))
    state, issued = settle(CRASH, fail_attempt(state, "right", FailureClass.AGENT_ERROR))
    assert isinstance(issued[-1], cmd.FinishRun)
    assert state.status == "failed" and state.error is not None
    assert state.error["step"] == "right"
    assert state.steps["left"].state is StepState.CANCELLED
    assert state.steps["deliver"].state is StepState.CANCELLED


def test_if_false_skips_and_skips_propagate() -> None:
    state, _ = settle(REVIEWED, start(REVIEWED))
    assert state.steps["draft"].state is StepState.RUNNING
    state, issued = settle(REVIEWED, succeed(state, "draft"))
    assert issued == [cmd.RequestApproval("draft", "manager", "after")]
    assert state.status == "waiting"
    state = emit(state, decision_event(state, "approve", "draft", "bob"))
    state, _ = settle(REVIEWED, state)
    assert state.steps["draft"].state is StepState.COMMITTED
    assert state.steps["branch"].skip_reason == "if: inputs.topic == 'never' is false"
    assert state.steps["after_branch"].skip_reason == "needs 'branch', which was skipped"
    assert state.steps["final"].state is StepState.RUNNING


def test_a_condition_that_cannot_be_evaluated_fails_the_run() -> None:
    wf = workflow("w", text_step("a", condition=Template("inputs.nope.deeper", is_expression=True)))
    state, issued = settle(wf, start(wf))
    assert isinstance(issued[0], cmd.FinishRun) and issued[0].failure == "condition_error"
    assert state.status == "failed" and state.steps["a"].state is StepState.CANCELLED


def test_a_second_commit_of_a_key_is_dropped_and_counted() -> None:
    wf = workflow("w", text_step("a"), text_step("b", needs=("a",)))
    state, _ = settle(wf, start(wf))
    state, _ = settle(wf, succeed(state, "a"))
    record = state.steps["a"]
    assert record.idempotency_key is not None and record.checksum is not None
    again = ev.StepCommitted(
        step="a", attempt=1, idempotency_key=record.idempotency_key, checksum=record.checksum
    )
    after = emit(state, again)
    assert after.steps["a"].dropped_commits == 1
    assert after.steps["a"].state is StepState.COMMITTED
    assert after.steps["a"].output == record.output


@pytest.mark.parametrize(
    "body",
    [
        ev.StepCommitted(step="fetch", attempt=1, idempotency_key="k", checksum="c"),
        ev.StepValidated(step="fetch", attempt=1, idempotency_key="k", checksum="c"),
        ev.ApprovalRequested(step="fetch", role="manager", stage="before"),
        ev.RetryScheduled(step="fetch", attempt=2, delay_ms=1, due_ms=1, jitter=0.0),
        ev.StepSkipped(step="nope", reason="x"),
    ],
)
def test_illegal_moves_raise(body: ev.EventBody) -> None:
    with pytest.raises(IllegalTransition):
        emit(start(CRASH), body)


def test_events_must_follow_each_other() -> None:
    state = start(CRASH)
    with pytest.raises(IllegalTransition, match="does not follow"):
        apply(state, ev.Event(5, "r1", 0, "t", ev.CancelRequested()))
    with pytest.raises(IllegalTransition, match="already started"):
        apply(state, ev.Event(2, "r1", 0, "t", run_started(CRASH, {}, "p", "s")))


def test_a_restart_is_only_for_an_interrupted_attempt() -> None:
    state, issued = settle(CRASH, start(CRASH))
    [first] = issued
    assert isinstance(first, cmd.StartAttempt)
    restart = cmd.event_for(dataclasses.replace(first, restart=True), 1000)
    assert restart is not None
    with pytest.raises(IllegalTransition, match="restart of a live attempt"):
        emit(state, restart)
    state = emit(state, ev.RunResumed(owner="o", spec_sha256="pin"))
    state, issued = settle(CRASH, state)
    assert issued == [dataclasses.replace(first, restart=True)]
    assert state.steps["fetch"].restarts == 1 and state.steps["fetch"].attempts == 1


def test_decisions_are_checked_against_the_run() -> None:
    state, _ = settle(CRASH, start(CRASH))
    with pytest.raises(DecisionRefused, match=r"unknown step 'nope'.*steps are deliver, fetch"):
        decision_event(state, "approve", "nope", "alice")
    with pytest.raises(DecisionRefused, match="'fetch' has no approval gate; gated steps: deliver"):
        decision_event(state, "approve", "fetch", "alice")
    with pytest.raises(DecisionRefused, match="not waiting for approval"):
        decision_event(state, "approve", "deliver", "alice")
    for step in ("fetch", "left", "right"):
        state, _ = settle(CRASH, succeed(state, step))
    assert state.steps["deliver"].state is StepState.AWAITING_APPROVAL
    with pytest.raises(
        DecisionRefused, match=r"'carol' may not decide .* role 'manager' \(alice, bob\)"
    ):
        decision_event(state, "approve", "deliver", "carol")
    state = emit(state, decision_event(state, "reject", "deliver", "bob", "no"))
    assert state.steps["deliver"].error == {"failure": "rejected", "message": "rejected by bob: no"}
    with pytest.raises(DecisionRefused, match="not waiting"):
        decision_event(state, "approve", "deliver", "alice")
    state, _ = settle(CRASH, state)
    with pytest.raises(DecisionRefused, match="already failed"):
        decision_event(state, "cancel")


def test_cancel_ends_the_run() -> None:
    state, _ = settle(CRASH, start(CRASH))
    state = emit(state, decision_event(state, "cancel", principal="ops"))
    state, issued = settle(CRASH, state)
    assert issued == [cmd.FinishRun("cancelled", message="cancel requested")]
    assert {r.state for r in state.steps.values()} == {StepState.CANCELLED}


def test_decide_is_pure() -> None:
    state, _ = settle(CRASH, start(CRASH))
    before = state.to_json()
    assert decide(CRASH, state, 5) == decide(CRASH, state, 5)
    assert state.to_json() == before


def test_a_state_survives_json() -> None:
    state, _ = settle(CRASH, start(CRASH))
    state, _ = settle(CRASH, succeed(state, "fetch"))
    assert RunState.from_json(state.to_json()).to_json() == state.to_json()


def test_shape_changes_name_what_changed() -> None:
    changed = workflow(
        "crashy", *[s if s.id != "right" else dataclasses.replace(s, needs=()) for s in CRASH.steps]
    )
    assert shape_changes(shape(CRASH), shape(changed)) == [
        "step 'right' changed its needs or output handoff"
    ]
    assert shape_changes(shape(CRASH), shape(CRASH)) == []
