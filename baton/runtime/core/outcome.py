"""How one attempt ended, and the events that record it. Pure.

A driver runs the attempt (render the input, call the agent, validate, score) and hands
back an `AttemptOutcome`; `outcome_events` says how the log records it. Keeping this
mapping in the core means every driver records attempts the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from baton.runtime.core import events as ev
from baton.runtime.model import JSON, FailureClass

PREVIEW_CHARS = 2000  # of a rejected output, kept in its event for diagnosis
# of a model's rejected reply, kept in its event: the next attempt sends it back (the
# repair loop), so it is bounded well above what a handoff-sized answer needs
REPLY_CHARS = 16_000


@dataclass(frozen=True)
class AttemptOutcome:
    """The result of one attempt.

    `failure` None: the output passed its schema and quality bar (`checksum` set).
    `received` True with a failure: the agent replied but the output was rejected.
    `received` False: the agent did not reply usefully (error, timeout).
    """

    step: str
    attempt: int
    latency_ms: int
    usage: dict[str, JSON] = field(default_factory=dict)
    output: JSON = None
    checksum: str | None = None
    quality_score: float | None = None
    failure: FailureClass | None = None
    message: str = ""
    errors: tuple[dict[str, str], ...] = ()
    received: bool = True
    preview: str = ""
    untrusted_sources: tuple[str, ...] = ()  # the untrusted values its input received
    traceback: str | None = None  # what a python agent raised, from its own code on
    reply: str | None = None  # a model's reply as it wrote it (llm agents)
    retryable: bool = True  # False: the agent says another attempt cannot help
    llm: dict[str, JSON] | None = None  # llm agents: provider, model, response_model
    # a reviewer's attempt (runtime.core.review.judged): round, passed, feedback...
    review: dict[str, JSON] | None = None
    # the attempt stopped at a tool call that waits for a person (runtime.tools): the
    # fields of its `tool_approval_requested`; `voided`: the fields of an
    # `approval_voided` for each grant it did not use, recorded first (plain JSON, so
    # an outcome crosses to a Temporal workflow as it is; core.tool_approvals)
    tool_approval: dict[str, JSON] | None = None
    voided: tuple[dict[str, JSON], ...] = ()


def outcome_events(outcome: AttemptOutcome, idempotency_key: str) -> list[ev.EventBody]:
    """`output_received` then `step_validated` or `output_rejected`; or `attempt_failed`.
    A reviewer's outcome: its verdict's event (runtime.core.review.review_events)."""
    if outcome.review is not None:
        from baton.runtime.core.review import review_events

        return review_events(outcome, outcome.attempt)
    if outcome.tool_approval is not None:
        asked = outcome.tool_approval
        return [
            *(ev.ApprovalVoided(step=outcome.step, **fields) for fields in outcome.voided),
            ev.ToolApprovalRequested(
                step=outcome.step,
                attempt=outcome.attempt,
                tool=str(asked["tool"]),
                name=str(asked["name"]),
                index=int(asked["index"]),
                key=str(asked["key"]),
                role=str(asked["role"]),
                sha256=str(asked["sha256"]),
                arguments=asked.get("arguments"),
                principals=tuple(str(p) for p in asked.get("principals") or ()),
                latency_ms=outcome.latency_ms,
                usage=outcome.usage,
            ),
        ]
    if not outcome.received:
        return [
            ev.AttemptFailed(
                step=outcome.step,
                attempt=outcome.attempt,
                failure=(outcome.failure or FailureClass.AGENT_ERROR).value,
                message=outcome.message,
                latency_ms=outcome.latency_ms,
                usage=outcome.usage,
                traceback=outcome.traceback,
                reply=bounded_reply(outcome.reply),
                retryable=outcome.retryable,
                llm=outcome.llm,
            )
        ]
    received = ev.OutputReceived(
        step=outcome.step,
        attempt=outcome.attempt,
        latency_ms=outcome.latency_ms,
        usage=outcome.usage,
        llm=outcome.llm,
    )
    if outcome.failure is not None:
        return [
            received,
            ev.OutputRejected(
                step=outcome.step,
                attempt=outcome.attempt,
                failure=outcome.failure.value,
                message=outcome.message,
                errors=outcome.errors,
                quality_score=outcome.quality_score,
                preview=outcome.preview[:PREVIEW_CHARS],
                reply=bounded_reply(outcome.reply),
            ),
        ]
    assert outcome.checksum is not None, "a validated output has a checksum"
    return [
        received,
        ev.StepValidated(
            step=outcome.step,
            attempt=outcome.attempt,
            idempotency_key=idempotency_key,
            checksum=outcome.checksum,
            output=outcome.output,
            quality_score=outcome.quality_score,
            untrusted_sources=outcome.untrusted_sources,
        ),
    ]


def bounded_reply(reply: str | None) -> str | None:
    """A model's reply as recorded: at most REPLY_CHARS, the cut said at its end.

    >>> bounded_reply("x" * (REPLY_CHARS + 5))[-28:]
    'x[5 characters cut by Baton]'
    """
    if reply is None or len(reply) <= REPLY_CHARS:
        return reply
    return f"{reply[:REPLY_CHARS]}[{len(reply) - REPLY_CHARS} characters cut by Baton]"
