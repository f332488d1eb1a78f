"""Gates over time: grants bound to what was shown, timeouts, escalation. Pure.

`decide` asks `advance` first about a step that waits for a person (awaiting approval
or review); it answers with the event to record, a deadline to wake at, or nothing
(then `decide` goes on as for any gate).

- A grant recorded with the sha256 of what the decider was shown
  (`runtime.approval_subject`) holds only while the step would still get exactly that:
  if the subject's sha256 differs when the run goes on (the spec changed under a
  resumed run, a redrive changed what a step consumes), `approval_voided` (both hashes)
  and the gate waits for a decision again.
- A gate with `timeout_ms` (in `run_started`'s gates: `runtime.core.plan.timeout_gate`)
  that has no decision by `requested_ms + timeout_ms`: `approval_timed_out`, then its
  action: `approval_rejected` (by `baton`, channel `timeout`: the step fails with class
  `rejected`) or `approval_escalated` (the request goes to `escalate_to`, with a fresh
  deadline; an escalated request that times out is rejected: it escalates once).
"""

from __future__ import annotations

from baton.runtime.core import commands as cmd
from baton.runtime.core import events as ev
from baton.runtime.core.state import ApprovalRecord, RunState, StepRecord, evolve
from baton.runtime.core.tool_approvals import TOOL_STAGE, principals_of
from baton.runtime.model import JSON, Step, StepState, Workflow

TIMEOUT_PRINCIPAL = "baton"  # who rejects a gate nobody decided in time
TIMEOUT_CHANNEL = "timeout"
WAITING = (StepState.AWAITING_APPROVAL, StepState.AWAITING_REVIEW)


def advance(
    workflow: Workflow, state: RunState, step: Step, record: StepRecord, now_ms: int
) -> tuple[cmd.Command | None, int | None] | None:
    """For a step waiting for a person: (command, wake-at), or None to let `decide`
    handle it as before."""
    approval = record.approval
    if record.state not in WAITING or approval is None:
        return None
    if approval.stage == TOOL_STAGE:  # bound by the toolbox, no timeout (core.tool_approvals)
        return None
    gate = state.gates.get(step.id) or {}
    if approval.decision == "granted":
        voided = _voided(workflow, state, step.id, approval)
        return None if voided is None else (voided, None)
    if approval.decision is not None:
        return None
    if approval.timed_out:
        return _after_timeout(gate, step.id, approval), None
    timeout_ms = gate.get("timeout_ms")
    if not isinstance(timeout_ms, int) or timeout_ms <= 0:
        return None
    due = approval.requested_ms + timeout_ms
    if now_ms < due:
        return None, due
    body = ev.ApprovalTimedOut(
        step=step.id,
        role=approval.role,
        stage=approval.stage,
        timeout_ms=timeout_ms,
        action=_action(gate, approval),
    )
    return cmd.RecordEvent(body), None


def next_deadline(state: RunState) -> int | None:
    """When the earliest undecided gate times out (None: none does): a driver's timer."""
    due: int | None = None
    for step, record in state.steps.items():
        approval = record.approval
        if record.state not in WAITING or approval is None or approval.decision is not None:
            continue
        if approval.stage == TOOL_STAGE:
            continue
        timeout_ms = (state.gates.get(step) or {}).get("timeout_ms")
        if isinstance(timeout_ms, int) and timeout_ms > 0:
            at = approval.requested_ms + timeout_ms
            due = at if due is None else min(due, at)
    return due


def principals_for(state: RunState, step: str) -> tuple[str, list[str]]:
    """(role, principals) who may decide `step`'s gate now: the gate's, or after an
    escalation its `escalate_to` role's."""
    gate = state.gates.get(step) or {}
    record = state.steps.get(step)
    approval = record.approval if record is not None else None
    if approval is not None and approval.stage == TOOL_STAGE:  # a model's tool call
        return approval.role, principals_of(approval)
    if approval is not None and approval.escalated_from is not None:
        return approval.role, [str(p) for p in _list(gate.get("escalate_principals"))]
    return str(gate.get("role", "")), [str(p) for p in _list(gate.get("principals"))]


# -- what apply does with the events of this module


def voided(record: StepRecord, ts: int) -> StepRecord:
    """The step after `approval_voided`: waiting again, for the same role."""
    assert record.approval is not None
    approval = ApprovalRecord(
        record.approval.role,
        record.approval.stage,
        ts,
        voided=record.approval.voided + 1,
        escalated_from=record.approval.escalated_from,
    )
    return _with(record, approval)


def timed_out(record: StepRecord) -> StepRecord:
    assert record.approval is not None
    return _with(record, evolve(record.approval, timed_out=True))


def escalated(record: StepRecord, body: ev.ApprovalEscalated, ts: int) -> StepRecord:
    assert record.approval is not None
    approval = ApprovalRecord(
        body.role, body.stage, ts, voided=record.approval.voided, escalated_from=body.from_role
    )
    return _with(record, approval)


# -- helpers


def _voided(
    workflow: Workflow, state: RunState, step: str, approval: ApprovalRecord
) -> cmd.Command | None:
    if not approval.shown_sha256:
        return None  # a decision bound to nothing (older logs, callers that show nothing)
    from baton.runtime.approval_subject import subject_sha256

    current = subject_sha256(workflow, state, step)
    if current == approval.shown_sha256:
        return None
    return cmd.RecordEvent(
        ev.ApprovalVoided(
            step=step,
            role=approval.role,
            stage=approval.stage,
            principal=approval.principal or "",
            shown_sha256=approval.shown_sha256,
            current_sha256=current,
        )
    )


def _action(gate: dict[str, JSON], approval: ApprovalRecord) -> str:
    escalate = gate.get("on_timeout") == "escalate" and gate.get("escalate_to")
    return "escalate" if escalate and approval.escalated_from is None else "reject"


def _after_timeout(gate: dict[str, JSON], step: str, approval: ApprovalRecord) -> cmd.Command:
    if _action(gate, approval) == "escalate":
        body: ev.EventBody = ev.ApprovalEscalated(
            step=step, stage=approval.stage, from_role=approval.role, role=str(gate["escalate_to"])
        )
    else:
        body = ev.ApprovalRejected(
            step=step,
            principal=TIMEOUT_PRINCIPAL,
            role=approval.role,
            stage=approval.stage,
            comment=f"no decision within {_duration(gate.get('timeout_ms'))}",
            requested_ms=approval.requested_ms,
            channel=TIMEOUT_CHANNEL,
        )
    return cmd.RecordEvent(body)


def _duration(ms: JSON) -> str:
    value = int(ms) if isinstance(ms, int | float) else 0
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return f"{value}ms"


def _list(value: JSON) -> list[JSON]:
    return list(value) if isinstance(value, list) else []


def _with(record: StepRecord, approval: ApprovalRecord) -> StepRecord:
    return evolve(record, approval=approval)
