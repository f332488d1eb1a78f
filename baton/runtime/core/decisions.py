"""Decisions from people (approve, reject, cancel) checked against a run's state. Pure.

`decision_event` is the one place that says whether a principal may decide a gate: the
command line calls it to refuse at once, and the run's driver calls it again when it
records the decision (the run may have moved on in between). `run_end` is the part of
`decide` that needs no workflow, so a process that only records a decision can also
end the run it ended (a rejection fails it, a cancel cancels it).
"""

from __future__ import annotations

from baton.runtime.core import events as ev
from baton.runtime.core.approvals import principals_for
from baton.runtime.core.budget import (
    RAISE_BUDGET,
    BudgetRefused,
    decode_limits,
    raise_event,
    scope_of,
    spend_of,
)
from baton.runtime.core.commands import FinishRun
from baton.runtime.core.index import index_of
from baton.runtime.core.state import RunState
from baton.runtime.core.tool_approvals import is_tool
from baton.runtime.model import StepState

APPROVE = "approve"
REJECT = "reject"
CANCEL = "cancel"


class DecisionRefused(ValueError):
    """A decision the run cannot take: the message says why, for the command line."""


def decision_event(
    state: RunState,
    kind: str,
    step: str | None = None,
    principal: str | None = None,
    comment: str | None = None,
    channel: str | None = None,
    shown_sha256: str | None = None,
) -> ev.EventBody:
    """The event recording a decision; raises DecisionRefused with the reason.
    `channel`: how an approval or rejection came (cli, web, api), kept in its event;
    `shown_sha256`: the sha256 of the subject the decider was shown
    (runtime.approval_subject), which binds a grant (runtime.core.approvals)."""
    if state.outcome is not None:
        raise DecisionRefused(f"run '{state.run_id}' has already {_ended(state.outcome)}")
    if kind == CANCEL:
        return ev.CancelRequested(by=principal or "")
    if kind == RAISE_BUDGET:  # `step` names the agent (None: the run), `comment` the limits
        try:
            limits = decode_limits(comment)
            return raise_event(
                state.budgets, spend_of(state, scope_of(step)), step, limits, principal or ""
            )
        except BudgetRefused as refusal:
            raise DecisionRefused(str(refusal)) from None
    if kind not in (APPROVE, REJECT):
        raise DecisionRefused(f"unknown decision '{kind}'")
    if step not in state.steps:
        raise DecisionRefused(
            f"unknown step '{step}' in run '{state.run_id}'; "
            f"steps are {', '.join(sorted(state.steps))}"
        )
    gate = state.gates.get(step)
    if gate is None and not is_tool(state.steps[step].approval):  # a tool call has none
        gated = sorted(state.gates)
        hint = f"; gated steps: {', '.join(gated)}" if gated else "; no step of this run is gated"
        raise DecisionRefused(f"step '{step}' has no approval gate{hint}")
    role, principals = principals_for(state, step)  # the escalation role's, once escalated
    if principal not in principals:
        raise DecisionRefused(
            f"'{principal}' may not decide step '{step}': it needs role '{role}' "
            f"({', '.join(sorted(principals)) or 'nobody holds it'})"
        )
    record = state.steps[step]
    waiting = record.state in (StepState.AWAITING_APPROVAL, StepState.AWAITING_REVIEW)
    if not waiting or record.approval is None:
        raise DecisionRefused(
            f"step '{step}' is not waiting for approval (it is {record.state.value})"
        )
    if record.approval.decision is not None:
        raise DecisionRefused(
            f"step '{step}' was already {record.approval.decision} by {record.approval.principal}"
        )
    if record.approval.timed_out:
        raise DecisionRefused(f"step '{step}': its approval timed out")
    assert principal is not None
    cls = ev.ApprovalGranted if kind == APPROVE else ev.ApprovalRejected
    return cls(
        step=step,
        principal=principal,
        role=role,
        stage=record.approval.stage,
        comment=comment or "",
        requested_ms=record.approval.requested_ms,
        channel=channel or "",
        shown_sha256=shown_sha256 or "",
    )


def run_end(state: RunState) -> FinishRun | None:
    """How the run ends now, if it must: a cancel was requested or a step failed."""
    if state.outcome is not None:
        return None
    if state.cancel_requested:
        return FinishRun("cancelled", message="cancel requested")
    step = index_of(state).first(StepState.FAILED)  # the first in plan order, no scan
    if step is not None:
        error = state.steps[step].error or {}
        return FinishRun(
            "failed",
            step=step,
            failure=str(error.get("failure", "")),
            message=f"step '{step}' failed: {error.get('message', '')}",
        )
    return None


def _ended(outcome: str) -> str:
    return {"succeeded": "succeeded", "failed": "failed", "cancelled": "been cancelled"}[outcome]
