"""Import every generated module and drive every step's state machine for real.

Each compiled step lists the lifecycle triggers that apply to it, taken from the runtime's
own trigger table (`rt.applicable_triggers`); `rt.StepLifecycle` builds the machine from
that list. Every legal path from `pending` to a terminal state works; every trigger fired
from a state where it is not legal raises `transitions.MachineError` and leaves the state
as it was; a trigger that does not apply to a step does not exist on its machine at all.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Iterator

import pytest
from transitions import MachineError

import baton.runtime as rt
import generated
from baton.runtime.lifecycle import TERMINAL, TRANSITIONS, states_of
from baton.runtime.lifecycle import TRIGGERS as TABLE

TRIGGERS = tuple(t.trigger for t in TRANSITIONS)
S = rt.StepState


def _generated_modules() -> list[types.ModuleType]:
    return [importlib.import_module(f"generated.{m}") for m in generated.MODULES.values()]


@pytest.fixture(scope="module")
def modules(rich: types.ModuleType) -> list[types.ModuleType]:
    return [*_generated_modules(), rich]


def _steps(modules: list[types.ModuleType]) -> Iterator[tuple[types.ModuleType, rt.Step]]:
    for module in modules:
        for step in module.WORKFLOW.steps:
            yield module, step


def _legal(step: rt.Step, state: rt.StepState, trigger: str) -> rt.StepState | None:
    """The destination of `trigger` from `state` for this step, or None if illegal."""
    if trigger not in step.transitions:
        return None
    allowed = set(step.transitions)
    transition = TABLE[trigger]
    unreachable = {
        S.AWAITING_APPROVAL: "request_approval",
        S.AWAITING_REVIEW: "request_review",
        S.RETRYING: "schedule_retry",
    }
    if state not in transition.sources or unreachable.get(state, trigger) not in allowed:
        return None
    return transition.dest


def _paths(step: rt.Step) -> list[list[tuple[str, rt.StepState]]]:
    """Every path from pending to a terminal state, taking each retry loop at most once."""
    found: list[list[tuple[str, rt.StepState]]] = []

    def walk(state: rt.StepState, path: list[tuple[str, rt.StepState]]) -> None:
        if state in TERMINAL:
            found.append(path)
            return
        for trigger in step.transitions:
            dest = _legal(step, state, trigger)
            if dest is not None and path.count((trigger, dest)) < 2:
                walk(dest, [*path, (trigger, dest)])

    walk(S.PENDING, [])
    return found


def test_steps_declare_exactly_the_applicable_triggers(modules: list[types.ModuleType]) -> None:
    for _, step in _steps(modules):
        approval = step.approval
        can_retry = step.retry.max_attempts > 1 and any(
            c not in rt.NEVER_RETRIED for c in step.retry.on
        )
        expected = rt.applicable_triggers(
            approval is not None,
            approval.stage if approval else None,
            can_retry,
            bool(step.fallbacks),
            bool(step.route),
            step.review.on_exhausted.value if step.review is not None else None,
        )
        assert step.transitions == expected, step.id


def test_generated_modules_declare_no_lifecycle_classes(modules: list[types.ModuleType]) -> None:
    """The runtime builds each step's machine from `Step.transitions`; nothing in a module
    subclasses StepLifecycle (the typed stubs it once held were never run)."""
    for module in modules:
        assert not hasattr(module, "LIFECYCLES")
        classes = [v for v in vars(module).values() if isinstance(v, type)]
        assert not [c for c in classes if issubclass(c, rt.StepLifecycle)], module.__name__


def test_every_legal_path_works(modules: list[types.ModuleType]) -> None:
    driven = 0
    for _, step in _steps(modules):
        for path in _paths(step):
            machine = rt.StepLifecycle(step)
            assert machine.state == S.PENDING
            for trigger, dest in path:
                assert getattr(machine, trigger)() is True
                assert machine.state == dest, (step.id, path)
            driven += 1
    assert driven > 50


def test_the_named_paths_exist(modules: list[types.ModuleType]) -> None:
    research = next(m for m in modules if m.WORKFLOW.name == "research_report")
    paths = {
        step.id: {tuple(t for t, _ in path) for path in _paths(step)}
        for step in research.WORKFLOW.steps
    }
    assert ("start", "validate", "commit") in paths["audit"]
    assert ("start", "schedule_retry", "start", "validate", "commit") in paths["research"]
    assert ("request_approval", "start", "validate", "commit") in paths["deliver"]
    assert ("request_approval", "fail") in paths["deliver"]  # rejected
    assert ("skip",) in paths["deliver"]
    assert ("start", "cancel") in paths["audit"]
    assert ("start", "fail") in paths["audit"]
    review = {tuple(t for t, _ in p) for p in _paths(modules[-1].STEPS[modules[-1].Step.REVIEW])}
    assert ("start", "validate", "request_review", "commit") in review


def test_every_illegal_transition_raises(modules: list[types.ModuleType]) -> None:
    checked = 0
    for _, step in _steps(modules):
        for state in states_of(step.transitions):
            for trigger in TRIGGERS:
                machine = rt.StepLifecycle(step, state)
                if trigger not in step.transitions:
                    assert not hasattr(machine, trigger), (step.id, trigger)
                    continue
                if _legal(step, state, trigger) is not None:
                    continue
                with pytest.raises(MachineError):
                    getattr(machine, trigger)()
                assert machine.state == state
                checked += 1
    assert checked > 100
