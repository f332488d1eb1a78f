"""Redrive (`baton retry`): which steps of a failed run start over. Pure.

A run that failed goes on from where it failed: its failed steps (or the ones named),
and the steps skipped or cancelled because of them, go back to pending with fresh
attempt budgets; committed steps keep their outputs and never run again. When a run
fails, every step still in motion is cancelled (fail-fast), so each cancelled step of
a failed run is one cancelled because of the failure: all of them go back. A step
skipped because a need of it was skipped goes back with that need.
"""

from __future__ import annotations

from collections.abc import Sequence

from baton.runtime.core import events as ev
from baton.runtime.core.state import FAILED, RunState
from baton.runtime.model import StepState

S = StepState


class RedriveRefused(ValueError):
    """A redrive the run does not allow: the message says why, for the command line."""


def redrive_event(state: RunState, named: Sequence[str] = (), by: str = "") -> ev.RunRedriven:
    """The `run_redriven` event taking `state` up again; raises RedriveRefused."""
    run = state.run_id
    if state.outcome is None:
        raise RedriveRefused(
            f"run '{run}' is {state.status}, not failed: only a failed run can be redriven "
            f"(`baton resume {run}` continues it)"
        )
    if state.outcome != FAILED:
        why = "succeeded" if state.outcome == "succeeded" else "was cancelled"
        raise RedriveRefused(f"run '{run}' {why}: only a failed run can be redriven")
    failed = [step for step in state.plan if state.steps[step].state is S.FAILED]
    requested = tuple(dict.fromkeys(named))
    for step in requested:
        _check_named(state, step)
    chosen = set(requested or failed)
    chosen.update(step for step in state.plan if state.steps[step].state is S.CANCELLED)
    # a step skipped because a need was skipped goes back with that need
    grew = True
    while grew:
        grew = False
        for step in state.plan:
            if step not in chosen and _skipped_because(state, step) in chosen:
                chosen.add(step)
                grew = True
    left = [step for step in failed if step not in chosen]
    if left:
        raise RedriveRefused(
            f"step{'s' if len(left) > 1 else ''} {_names(left)} failed too and "
            f"{'are' if len(left) > 1 else 'is'} not named: the run would fail again at once; "
            "name every failed step, or leave out --step"
        )
    steps = tuple(step for step in state.plan if step in chosen)
    if not steps:
        raise RedriveRefused(f"run '{run}' has no failed, skipped or cancelled step to redrive")
    return ev.RunRedriven(by=by, steps=steps, requested=requested)


def _check_named(state: RunState, step: str) -> None:
    if step not in state.steps:
        raise RedriveRefused(
            f"unknown step '{step}' in run '{state.run_id}'; "
            f"steps are {', '.join(sorted(state.steps))}"
        )
    record = state.steps[step]
    if record.state is S.COMMITTED:
        raise RedriveRefused(
            f"step '{step}' is committed: committed steps never run again "
            "(start a new run to redo it)"
        )
    if record.state is S.SKIPPED and _skipped_because(state, step) is None:
        raise RedriveRefused(
            f"step '{step}' was skipped ({record.skip_reason}), not because of a failure"
        )
    if record.state not in (S.FAILED, S.CANCELLED, S.SKIPPED):
        raise RedriveRefused(f"step '{step}' is {record.state.value}: nothing to redrive")


def _skipped_because(state: RunState, step: str) -> str | None:
    """The need whose skip (or failure) skipped `step`, if that is why it was skipped
    (`decide` records the reason as "needs 'NEED', which was skipped")."""
    record = state.steps[step]
    reason = record.skip_reason or ""
    if record.state is not S.SKIPPED or not reason.startswith("needs '"):
        return None
    need = reason.removeprefix("needs '").partition("'")[0]
    if need not in state.steps:
        return None
    need_record = state.steps[need]
    if need_record.state in (S.FAILED, S.CANCELLED):
        return need
    return need if _skipped_because(state, need) is not None else None


def _names(steps: list[str]) -> str:
    return ", ".join(f"'{step}'" for step in steps)
