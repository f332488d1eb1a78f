"""Approving one tool call of a model agent (a roster tool with `approval:`). Pure.

The calls are made inside an attempt (runtime.tools), so the wait reuses the step's
lifecycle rather than adding a state:

    running --tool_approval_requested--> awaiting_approval (stage `tool`)
      --approval_granted / approval_rejected--> (still awaiting, decided)
      --attempt_started (restart: same attempt number and key)--> running

`tool_approval_requested` is the attempt's outcome: it closes the attempt (no failure,
no retry counted) and records the subject the person decides on: the tool, the
function the model called, its arguments, the step, the attempt and the call's key,
hashed (`sha256`). The decision is appended to the step's `tool_decisions`, which the
re-run attempt receives (core.commands.StartAttempt): the toolbox makes the call a
grant covers (same key and subject sha256), tells the model a rejected call was
refused, and asks again for any other call. A grant the re-run attempt did not use (the
model asked a different call) is voided (`approval_voided`, stage `tool`) before the new
request, so the log says why a second approval was asked.

Unlike a step's gate, a tool approval has no timeout and no escalation: the roster's
`approval:` of a tool has only `role`.
"""

from __future__ import annotations

from typing import TypeGuard

from baton.runtime.core import events as ev
from baton.runtime.core.state import ApprovalRecord, StepRecord, evolve
from baton.runtime.model import JSON

TOOL_STAGE = "tool"
GRANTED = "granted"
REJECTED = "rejected"


def is_tool(approval: ApprovalRecord | None) -> TypeGuard[ApprovalRecord]:
    return approval is not None and approval.stage == TOOL_STAGE


def call_subject(
    tool: str, name: str, arguments: JSON, step: str, attempt: int, key: str
) -> dict[str, JSON]:
    """What the person is shown and what the decision is bound to (its sha256): the
    roster tool, the function the model called, its arguments, where, and the call's
    key. The toolbox hashes the same value to find the decision covering a call."""
    return {
        "tool": tool,
        "name": name,
        "arguments": arguments,
        "step": step,
        "attempt": attempt,
        "key": key,
    }


def subject_of(body: ev.ToolApprovalRequested) -> dict[str, JSON]:
    return call_subject(body.tool, body.name, body.arguments, body.step, body.attempt, body.key)


def requested(record: StepRecord, body: ev.ToolApprovalRequested, ts: int) -> StepRecord:
    """The step (already moved to awaiting_approval) with the call's request."""
    before = record.approval
    approval = ApprovalRecord(
        body.role,
        TOOL_STAGE,
        ts,
        voided=before.voided if is_tool(before) else 0,
        tool={
            "subject": subject_of(body),
            "sha256": body.sha256,
            "principals": list(body.principals),
            "index": body.index,
        },
    )
    return evolve(
        record,
        attempt_open=False,
        approval=approval,
        latency_ms=body.latency_ms,
        usage=record.usage.plus(body.usage),
    )


def decided(record: StepRecord, body: ev.ApprovalGranted | ev.ApprovalRejected) -> StepRecord:
    """`record` (its approval already marked decided) with the decision appended to the
    ones its attempt will get. Bound to `shown_sha256` when the decider sent one, else
    to the subject recorded with the request."""
    assert record.approval is not None and record.approval.tool is not None
    tool = record.approval.tool
    subject = tool.get("subject")
    key = subject.get("key") if isinstance(subject, dict) else None
    decision: dict[str, JSON] = {
        "key": key,
        "sha256": body.shown_sha256 or tool.get("sha256"),
        "decision": GRANTED if isinstance(body, ev.ApprovalGranted) else REJECTED,
        "principal": body.principal,
        "role": body.role,
        "comment": body.comment,
    }
    return evolve(record, tool_decisions=(*record.tool_decisions, decision))


def voided(record: StepRecord, body: ev.ApprovalVoided) -> StepRecord:
    """A grant the re-run attempt did not use: dropped from its decisions. Raises
    ValueError when the step holds no such grant."""
    kept = tuple(
        d
        for d in record.tool_decisions
        if not (d.get("decision") == GRANTED and d.get("sha256") == body.shown_sha256)
    )
    if len(kept) == len(record.tool_decisions):
        raise ValueError(f"no tool grant {body.shown_sha256[:12]} to void")
    approval = record.approval
    if approval is not None:
        approval = evolve(approval, voided=approval.voided + 1)
    return evolve(record, tool_decisions=kept, approval=approval)


def restarted(record: StepRecord, body: ev.AttemptStarted, ts: int) -> StepRecord:
    """The step (already moved to running) re-running its decided attempt. Raises
    ValueError when it is not a decided tool approval of that attempt."""
    approval = record.approval
    if not is_tool(approval) or approval.decision is None:
        raise ValueError("restart of an attempt no tool decision resumes")
    if body.attempt != record.attempts:
        raise ValueError(f"attempt {body.attempt} is not the one that waited")
    return evolve(
        record, attempt_open=True, interrupted=False, restarts=record.restarts + 1, started_ms=ts
    )


def principals_of(approval: ApprovalRecord) -> list[str]:
    """Who may decide a tool call: the role's holders when it was asked."""
    found = (approval.tool or {}).get("principals")
    return [str(p) for p in found] if isinstance(found, list) else []
