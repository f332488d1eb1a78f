"""The step state machine, built on `transitions`.

States are `StepState`; `auto_transitions=False`, so the only moves are the ones listed
here and an illegal move raises `transitions.MachineError`. Each compiled step lists the
triggers that apply to it (a step without approval has no `request_approval`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from baton.runtime.model import ApprovalStage, Step, StepState

S = StepState
ACTIVE = (
    S.PENDING,
    S.AWAITING_APPROVAL,
    S.RUNNING,
    S.RETRYING,
    S.VALIDATED,
    S.REVIEWING,
    S.AWAITING_REVIEW,
)
TERMINAL = frozenset({S.COMMITTED, S.FAILED, S.SKIPPED, S.CANCELLED})


@dataclass(frozen=True)
class Transition:
    trigger: str
    sources: tuple[StepState, ...]
    dest: StepState


TRANSITIONS: tuple[Transition, ...] = (
    Transition("request_approval", (S.PENDING,), S.AWAITING_APPROVAL),
    # a model agent's call of a tool with `approval:` waits for a person
    # (`tool_approval_requested`, runtime.tools): the attempt ends, and once decided it
    # runs again (`start`, a restart: same attempt number and key)
    Transition("await_tool_approval", (S.RUNNING,), S.AWAITING_APPROVAL),
    Transition("start", (S.PENDING, S.AWAITING_APPROVAL, S.RETRYING), S.RUNNING),
    Transition("validate", (S.RUNNING,), S.VALIDATED),
    Transition("schedule_retry", (S.RUNNING,), S.RETRYING),
    # a step's retries are exhausted and a fallback agent takes it over (`fallback_started`)
    Transition("fall_back", (S.RUNNING,), S.RETRYING),
    # a routed step none of whose `route:` cases matched fails before any attempt
    Transition("no_route", (S.PENDING,), S.FAILED),
    # a review loop (runtime.core.review): the reviewer judges a validated output
    # (`review_started`); it passes, or the loop is exhausted (`review_passed`,
    # `review_exhausted`), or the producer revises (`revision_requested`)
    Transition("start_review", (S.VALIDATED,), S.REVIEWING),
    Transition("end_review", (S.REVIEWING,), S.VALIDATED),
    Transition("revise", (S.REVIEWING,), S.RETRYING),
    Transition("request_review", (S.VALIDATED,), S.AWAITING_REVIEW),
    Transition("commit", (S.VALIDATED, S.AWAITING_REVIEW), S.COMMITTED),
    Transition(
        "fail",
        (S.RUNNING, S.AWAITING_APPROVAL, S.AWAITING_REVIEW, S.VALIDATED, S.REVIEWING),
        S.FAILED,
    ),
    Transition("skip", (S.PENDING,), S.SKIPPED),
    Transition("cancel", ACTIVE, S.CANCELLED),
    # `baton retry`: a failed run's failed steps, and those skipped or cancelled because
    # of them, start over (runtime.core.redrive); every step has it
    Transition("redrive", (S.FAILED, S.SKIPPED, S.CANCELLED), S.PENDING),
)
TRIGGERS = {transition.trigger: transition for transition in TRANSITIONS}


def applicable_triggers(
    has_approval: bool,
    stage: ApprovalStage | None,
    can_retry: bool,
    has_fallback: bool = False,
    has_route: bool = False,
    review: str | None = None,
    tool_approval: bool = False,
) -> tuple[str, ...]:
    """The triggers a step with this configuration can use, in table order.
    `review`: a review loop's `on_exhausted` (None: no review loop); `escalate` asks a
    person through the after-stage approval's `request_review`. `tool_approval`: an
    agent that may run the step can call a tool with `approval:` (decided when a run
    starts, from the roster: runtime.core.plan.triggers_of)."""
    excluded = set()
    if not tool_approval:
        excluded.add("await_tool_approval")
    if not has_approval or stage != ApprovalStage.BEFORE:
        excluded.add("request_approval")
    if (not has_approval or stage != ApprovalStage.AFTER) and review != "escalate":
        excluded.add("request_review")
    if review is None:
        excluded.update(("start_review", "end_review", "revise"))
    if not can_retry:
        excluded.add("schedule_retry")
    if not has_fallback:
        excluded.add("fall_back")
    if not has_route:
        excluded.add("no_route")
    return tuple(t.trigger for t in TRANSITIONS if t.trigger not in excluded)


def _sources(transition: Transition, allowed: set[str]) -> list[StepState]:
    """Drop sources only reachable through triggers the step does not have."""
    unreachable = set()
    if not {"request_approval", "await_tool_approval"} & allowed:
        unreachable.add(S.AWAITING_APPROVAL)
    if "request_review" not in allowed:
        unreachable.add(S.AWAITING_REVIEW)
    if not {"schedule_retry", "fall_back", "revise"} & allowed:
        unreachable.add(S.RETRYING)
    if "start_review" not in allowed:
        unreachable.add(S.REVIEWING)
    return [s for s in transition.sources if s not in unreachable]


def states_of(triggers: tuple[str, ...]) -> list[StepState]:
    """The states a step with these triggers can be in."""
    allowed = set(triggers)
    states = {S.PENDING}
    for trigger in triggers:
        transition = TRIGGERS[trigger]
        states.add(transition.dest)
        states.update(_sources(transition, allowed))
    return [s for s in StepState if s in states]


def build_machine(model: Any, triggers: tuple[str, ...], initial: StepState = S.PENDING) -> Any:
    """Attach a `transitions` machine with exactly `triggers` to `model`: a trigger that
    does not apply to the step does not exist on it."""
    from transitions import Machine

    allowed = set(triggers)
    return Machine(
        model=model,
        states=states_of(triggers),
        transitions=[
            {"trigger": t, "source": _sources(TRIGGERS[t], allowed), "dest": TRIGGERS[t].dest}
            for t in triggers
        ],
        initial=initial,
        auto_transitions=False,
        send_event=False,
    )


class StepLifecycle:
    """A step's state machine, with the triggers the step was compiled with
    (`Step.transitions`) as methods; an illegal move raises `transitions.MachineError`."""

    state: StepState

    def __init__(self, step: Step, initial: StepState = S.PENDING) -> None:
        self.step_id = step.id
        build_machine(self, step.transitions, initial)
