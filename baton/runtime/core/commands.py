"""What `decide` asks a driver to do, and the event each command becomes.

A command carries everything its event needs except what only a driver may supply: the
clock (`now_ms`) and, for retries, a random jitter sample. `event_for` turns a command
into its event body; the driver appends it, and for `StartAttempt` calls the agent once
that event is durable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from baton.runtime.core import events as ev
from baton.runtime.core.map_commands import MAP_COMMANDS, MapCommand
from baton.runtime.core.map_commands import event_for as map_event_for
from baton.runtime.model import JSON, FailureClass, RetryPolicy


@dataclass(frozen=True)
class StartAttempt:
    """Run one attempt (or, with `restart`, run an interrupted attempt again)."""

    step: str
    attempt: int
    idempotency_key: str
    attempt_id: str
    external: bool
    restart: bool = False
    child_run_id: str | None = None
    agent: str | None = None  # recorded, so the log alone says who ran each attempt
    workflow: str | None = None  # a routed step's chosen sub-workflow (runtime.core.route)
    # the step's rejected model replies so far (StepRecord.repairs), from the state, so
    # an llm agent's repair conversation is rebuilt from the log on every backend
    history: tuple[dict[str, JSON], ...] = ()
    # a review loop (runtime.core.review): `review` > 0 runs the reviewer of that round
    # (`review_started`, `agent` the reviewer); `feedback` goes to a producer's attempt
    review: int = 0
    feedback: tuple[str, ...] = ()
    # the decisions on this attempt's tool calls (StepRecord.tool_decisions), from the
    # state: a re-run attempt makes the calls granted and refuses those rejected
    tool_decisions: tuple[dict[str, JSON], ...] = ()
    # the attempt may stop to wait for a person's decision on a tool call: the run's
    # plan lists `await_tool_approval` for the step (a map's item, a reviewer: never)
    tool_approvals: bool = False


@dataclass(frozen=True)
class TimeoutAttempt:
    step: str
    attempt: int
    timeout_ms: int
    review: int = 0  # the reviewer of this round timed out (`review_failed`)


@dataclass(frozen=True)
class ScheduleRetry:
    step: str
    failed_attempt: int
    policy: RetryPolicy
    # attempts made before the step's latest redrive: its backoff starts over after one
    attempt_base: int = 0


@dataclass(frozen=True)
class StartFallback:
    """The step's retries are exhausted with a class fallback `index` (1-based) lists."""

    step: str
    failed_attempt: int
    index: int
    agent: str
    failure: str
    message: str
    previous_agent: str | None = None


@dataclass(frozen=True)
class SelectRoute:
    """A routed step is ready: record which case runs it (`case` 0: none matched)."""

    step: str
    case: int
    kind: str = ""
    target: str = ""
    reads: dict[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestApproval:
    step: str
    role: str
    stage: str


@dataclass(frozen=True)
class CommitStep:
    step: str
    attempt: int
    idempotency_key: str
    checksum: str


@dataclass(frozen=True)
class SkipStep:
    step: str
    reason: str


@dataclass(frozen=True)
class FailStep:
    step: str
    failure: str
    message: str


@dataclass(frozen=True)
class FinishRun:
    """End the run: `succeeded`, `failed` (naming the step at fault) or `cancelled`."""

    outcome: str
    step: str | None = None
    failure: str = ""
    message: str = ""
    result_step: str | None = None


@dataclass(frozen=True)
class ExceedBudget:
    """Record that a cap was reached before `step`'s attempt (runtime.core.budget)."""

    step: str
    scope: str
    measure: str
    spent: float
    limit: float
    mode: str


@dataclass(frozen=True)
class RecordEvent:
    """Record `body` as it is: its event needs nothing only a driver has (the clock
    stamps the envelope). Issued by `runtime.core.approvals`."""

    body: ev.EventBody


@dataclass(frozen=True)
class Wait:
    """Nothing to do before `until_ms` (a retry due, an attempt deadline) or an event."""

    until_ms: int


Command = (
    StartAttempt
    | TimeoutAttempt
    | ScheduleRetry
    | StartFallback
    | SelectRoute
    | RequestApproval
    | CommitStep
    | SkipStep
    | FailStep
    | FinishRun
    | ExceedBudget
    | RecordEvent
    | Wait
    | MapCommand  # a map step's (runtime.core.mapping)
)


def event_for(command: Command, now_ms: int, jitter_sample: float = 0.0) -> ev.EventBody | None:
    """The event recording `command` (None for `Wait`, which records nothing)."""
    match command:
        case StartAttempt() if command.review:
            return ev.ReviewStarted(
                step=command.step,
                attempt=command.attempt,
                round=command.review,
                agent=command.agent or "",
                idempotency_key=command.idempotency_key,
                attempt_id=command.attempt_id,
                restart=command.restart,
            )
        case StartAttempt():
            return ev.AttemptStarted(
                step=command.step,
                attempt=command.attempt,
                idempotency_key=command.idempotency_key,
                attempt_id=command.attempt_id,
                external=command.external,
                restart=command.restart,
                child_run_id=command.child_run_id,
                agent=command.agent,
            )
        case TimeoutAttempt() if command.review:
            return ev.ReviewFailed(
                step=command.step,
                attempt=command.attempt,
                round=command.review,
                failure=FailureClass.TIMEOUT.value,
                message=f"the reviewer gave no verdict within {command.timeout_ms} ms",
                latency_ms=command.timeout_ms,
            )
        case TimeoutAttempt():
            return ev.AttemptFailed(
                step=command.step,
                attempt=command.attempt,
                failure=FailureClass.TIMEOUT.value,
                message=f"no reply within {command.timeout_ms} ms",
                latency_ms=command.timeout_ms,
            )
        case ScheduleRetry():
            tries = command.failed_attempt - command.attempt_base
            delay = command.policy.delay_ms(tries, jitter_sample)
            return ev.RetryScheduled(
                step=command.step,
                attempt=command.failed_attempt + 1,
                delay_ms=delay,
                due_ms=now_ms + delay,
                jitter=jitter_sample,
            )
        case StartFallback():
            return ev.FallbackStarted(
                step=command.step,
                attempt=command.failed_attempt + 1,
                agent=command.agent,
                index=command.index,
                failure=command.failure,
                message=command.message,
                previous_agent=command.previous_agent,
            )
        case SelectRoute():
            return ev.RouteSelected(
                step=command.step,
                case=command.case,
                kind=command.kind,
                target=command.target,
                reads=command.reads,
            )
        case RequestApproval():
            return ev.ApprovalRequested(step=command.step, role=command.role, stage=command.stage)
        case CommitStep():
            return ev.StepCommitted(
                step=command.step,
                attempt=command.attempt,
                idempotency_key=command.idempotency_key,
                checksum=command.checksum,
            )
        case SkipStep():
            return ev.StepSkipped(step=command.step, reason=command.reason)
        case FailStep():
            return ev.StepFailed(
                step=command.step, failure=command.failure, message=command.message
            )
        case FinishRun():
            if command.outcome == "succeeded":
                return ev.RunSucceeded(result_step=command.result_step)
            if command.outcome == "cancelled":
                return ev.RunCancelled(by=command.message)
            return ev.RunFailed(step=command.step, failure=command.failure, message=command.message)
        case ExceedBudget():
            agent = None if command.scope == "run" else command.scope.removeprefix("agent:")
            return ev.BudgetExceeded(
                step=command.step,
                cap="run" if agent is None else "agent",
                agent=agent,
                measure=command.measure,
                spent=command.spent,
                limit=command.limit,
                mode=command.mode,
            )
        case RecordEvent():
            return command.body
        case Wait():
            return None
    if isinstance(command, MAP_COMMANDS):
        return map_event_for(command, now_ms, jitter_sample)
    raise TypeError(f"not a command: {command!r}")
