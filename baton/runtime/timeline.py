"""A run's timeline, built from its event log alone. Pure.

Steps with their start and end, each attempt (who ran it, how long, what it cost, how
it ended, the delegations it made) and the waits in between (for an approval, for a
review, for a retry's backoff). `baton trace RUN` draws it; `runtime.telemetry` turns
it into OpenTelemetry spans, so both tell the same story.

Attempt `status`: `ok` (validated), a failure class (`malformed_output`, `timeout`,
`agent_error`, `acl_denied`, ...), `interrupted` (its process died; it was run again
under the same key), `cancelled` (the run ended while it ran) or `running`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from baton.runtime.core import events as ev
from baton.runtime.core.apply import fold
from baton.runtime.core.route import describe as describe_route
from baton.runtime.core.state import RunState
from baton.runtime.map_timeline import MapLine
from baton.runtime.model import JSON


@dataclass
class Usage:
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0

    def add(self, usage: dict[str, JSON]) -> None:
        self.tokens_in += int(usage.get("tokens_in") or 0)
        self.tokens_out += int(usage.get("tokens_out") or 0)
        self.cost_usd += float(usage.get("cost_usd") or 0.0)

    def to_json(self) -> dict[str, JSON]:
        return {
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": round(self.cost_usd, 10),
        }


@dataclass
class Delegation:
    """One run-time delegation made during an attempt."""

    agent: str
    chain: tuple[str, ...]
    idempotency_key: str
    start_ms: int
    end_ms: int | None = None
    status: str = "running"  # ok | reused | denied | a failure class
    message: str = ""
    usage: Usage = field(default_factory=Usage)


@dataclass
class Attempt:
    step: str
    attempt: int
    agent: str | None
    start_ms: int
    end_ms: int | None = None
    status: str = "running"
    latency_ms: int | None = None
    usage: Usage = field(default_factory=Usage)
    message: str = ""
    restart: bool = False
    external: bool = False
    idempotency_key: str = ""
    child_run_id: str | None = None
    delegations: list[Delegation] = field(default_factory=list)
    llm: dict[str, JSON] | None = None  # llm agents: provider, model, response_model


@dataclass
class Wait:
    """Time a step spent waiting: `approval`, `review` or `retry`; or the moment a
    `fallback` agent took the step over, or its `route` chose its runner (no time spent);
    or a review loop's round (`review_round`: its reviewer judging the output of attempt
    `attempt`)."""

    kind: str
    start_ms: int
    end_ms: int | None = None
    detail: str = ""
    attempt: int | None = None  # a fallback: the first attempt its agent runs


@dataclass
class StepTimeline:
    step: str
    state: str = "pending"
    start_ms: int | None = None
    end_ms: int | None = None
    attempts: list[Attempt] = field(default_factory=list)
    waits: list[Wait] = field(default_factory=list)
    agent: str | None = None
    detail: str = ""
    map: MapLine | None = None  # a map step's items (runtime.map_timeline)


@dataclass
class Timeline:
    run_id: str
    workflow: str
    version: int
    trace_id: str
    status: str
    start_ms: int
    end_ms: int
    steps: list[StepTimeline]
    state: RunState
    error: dict[str, JSON] | None = None

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    def attempts(self) -> list[Attempt]:
        return [attempt for step in self.steps for attempt in step.attempts]

    def to_json(self) -> dict[str, Any]:
        """The shape `baton trace RUN --json` prints."""
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "version": self.version,
            "trace_id": self.trace_id,
            "status": self.status,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "duration_ms": self.duration_ms,
            "error": self.error,
            "totals": self.state.totals(),
            "steps": [_step_json(step) for step in self.steps],
        }


def build(events: list[ev.Event]) -> Timeline:
    """The timeline of a run's whole log."""
    state = fold(events)
    steps = {step: StepTimeline(step) for step in state.plan}
    open_attempts: dict[str, Attempt] = {}
    retries: dict[str, Wait] = {}
    last_ts = events[0].ts
    for event in events:
        _take(event, steps, open_attempts, retries, last_ts)
        last_ts = event.ts
    end = state.finished_ms if state.finished_ms is not None else last_ts
    for step, record in state.steps.items():
        line = steps[step]
        line.state = record.state.value
        if record.skip_reason:
            line.detail = record.skip_reason
        elif record.error:
            line.detail = str(record.error.get("message", ""))
    return Timeline(
        run_id=state.run_id,
        workflow=state.workflow,
        version=state.version,
        trace_id=state.trace_id,
        status=state.status,
        start_ms=state.started_ms,
        end_ms=end,
        steps=[steps[step] for step in state.plan],
        state=state,
        error=state.error,
    )


def _take(
    event: ev.Event,
    steps: dict[str, StepTimeline],
    open_attempts: dict[str, Attempt],
    retries: dict[str, Wait],
    last_ts: int,
) -> None:
    body, ts = event.body, event.ts
    line = steps.get(event.step) if event.step is not None else None
    if line is not None and line.start_ms is None:
        line.start_ms = ts
    if isinstance(body, ev.MAP_EVENTS) and line is not None:  # a map step's items
        if line.map is None:
            line.map = MapLine()
        line.map.take(body, ts, last_ts)
        if isinstance(body, ev.MapStarted):
            line.agent = body.agent
        return
    match body:
        case ev.AttemptStarted():
            assert line is not None
            previous = open_attempts.pop(body.step, None)
            if previous is not None:  # a restart: its process died at about `last_ts`
                previous.end_ms, previous.status = last_ts, "interrupted"
            wait = retries.pop(body.step, None)
            if wait is not None:
                wait.end_ms = ts
            attempt = Attempt(
                step=body.step,
                attempt=body.attempt,
                agent=body.agent,
                start_ms=ts,
                restart=body.restart,
                external=body.external,
                idempotency_key=body.idempotency_key,
                child_run_id=body.child_run_id,
            )
            line.attempts.append(attempt)
            line.agent = line.agent or body.agent
            open_attempts[body.step] = attempt
        case ev.OutputReceived():
            attempt = open_attempts[body.step]
            attempt.latency_ms = body.latency_ms
            attempt.usage.add(body.usage)
            attempt.llm = body.llm
        case ev.StepValidated():
            _close(open_attempts, body.step, ts, "ok")
        case ev.OutputRejected():
            _close(open_attempts, body.step, ts, body.failure, body.message)
        case ev.AttemptFailed():
            failed = _close(open_attempts, body.step, ts, body.failure, body.message)
            if failed is not None:
                failed.latency_ms = body.latency_ms
                failed.usage.add(body.usage)
                failed.llm = body.llm
        case ev.ToolApprovalRequested():  # the attempt waits for a person (runtime.tools)
            assert line is not None
            waiting = _close(open_attempts, body.step, ts, "awaiting_approval", body.name)
            if waiting is not None:
                waiting.latency_ms = body.latency_ms
                waiting.usage.add(body.usage)
            detail = f"tool call {body.name} by role '{body.role}'"
            line.waits.append(Wait("approval", ts, detail=detail))
        case ev.RetryScheduled():
            assert line is not None
            wait = Wait(
                "retry",
                ts,
                body.due_ms,
                f"backoff {body.delay_ms} ms before attempt {body.attempt}",
            )
            line.waits.append(wait)
            retries[body.step] = wait
        case ev.FallbackStarted():
            assert line is not None
            detail = f"{body.agent} runs it from attempt {body.attempt} (after {body.failure})"
            line.waits.append(Wait("fallback", ts, ts, detail, body.attempt))
        case ev.RouteSelected():
            assert line is not None
            detail = describe_route(body.case, body.kind, body.target, body.reads)
            line.waits.append(Wait("route", ts, ts, detail))
        case ev.ReviewStarted():
            assert line is not None
            if not body.restart:
                detail = f"review round {body.round} ({body.agent})"
                line.waits.append(Wait("review_round", ts, None, detail, body.attempt))
        case ev.ReviewPassed() | ev.RevisionRequested() | ev.ReviewExhausted() | ev.ReviewFailed():
            assert line is not None
            rounds = [w for w in line.waits if w.kind == "review_round" and w.end_ms is None]
            if rounds:
                rounds[-1].end_ms = ts
                rounds[-1].detail += f": {_verdict(body)}"
        case ev.ApprovalRequested():
            assert line is not None
            kind = "approval" if body.stage == "before" else "review"
            line.waits.append(Wait(kind, ts, detail=f"role '{body.role}'"))
        case ev.ApprovalGranted() | ev.ApprovalRejected():
            assert line is not None
            if line.waits and line.waits[-1].end_ms is None:
                verb = "approved" if isinstance(body, ev.ApprovalGranted) else "rejected"
                line.waits[-1].end_ms = ts
                line.waits[-1].detail = f"{verb} by {body.principal} as {body.role}"
        case ev.DelegationRequested():
            attempt = open_attempts[body.step]
            delegation = Delegation(body.agent, body.chain, body.idempotency_key, ts)
            if body.reused:
                delegation.end_ms, delegation.status = ts, "reused"
            attempt.delegations.append(delegation)
        case ev.DelegationDenied():
            found = _delegation(open_attempts, body.step, body.idempotency_key)
            if found is not None:
                found.end_ms, found.status, found.message = ts, "denied", body.message
        case ev.DelegationCompleted():
            found = _delegation(open_attempts, body.step, body.idempotency_key)
            open_attempts[body.step].usage.add(body.usage)
            if found is not None:
                found.end_ms, found.status = ts, "ok"
                found.usage.add(body.usage)
        case ev.DelegationFailed():
            found = _delegation(open_attempts, body.step, body.idempotency_key)
            open_attempts[body.step].usage.add(body.usage)
            if found is not None:
                found.end_ms, found.status, found.message = ts, body.failure, body.message
                found.usage.add(body.usage)
        case ev.StepCommitted() | ev.StepSkipped() | ev.StepFailed():
            assert line is not None
            line.end_ms = ts
        case ev.RunFailed() | ev.RunCancelled():
            for step in list(open_attempts):
                _close(open_attempts, step, ts, "cancelled")
            for timeline in steps.values():
                if timeline.start_ms is not None and timeline.end_ms is None:
                    timeline.end_ms = ts
                    for wait in timeline.waits:
                        wait.end_ms = ts if wait.end_ms is None else wait.end_ms
            for wait in retries.values():
                wait.end_ms = ts


def _close(
    open_attempts: dict[str, Attempt], step: str, ts: int, status: str, message: str = ""
) -> Attempt | None:
    attempt = open_attempts.pop(step, None)
    if attempt is not None:
        attempt.end_ms, attempt.status, attempt.message = ts, status, message
    return attempt


def _delegation(open_attempts: dict[str, Attempt], step: str, key: str) -> Delegation | None:
    attempt = open_attempts.get(step)
    if attempt is None:
        return None
    return next((d for d in reversed(attempt.delegations) if d.idempotency_key == key), None)


def _step_json(step: StepTimeline) -> dict[str, Any]:
    return {
        "step": step.step,
        "agent": step.agent,
        "state": step.state,
        "start_ms": step.start_ms,
        "end_ms": step.end_ms,
        "detail": step.detail,
        "waits": [_wait_json(wait) for wait in step.waits],
        **({"map": step.map.to_json()} if step.map is not None else {}),
        "attempts": [
            {
                **{k: v for k, v in vars(a).items() if k not in ("usage", "delegations")},
                "usage": a.usage.to_json(),
                "delegations": [_delegation_json(d) for d in a.delegations],
            }
            for a in step.attempts
        ],
    }


def _delegation_json(delegation: Delegation) -> dict[str, Any]:
    data = {k: v for k, v in vars(delegation).items() if k != "usage"}
    data["chain"] = list(delegation.chain)
    data["usage"] = delegation.usage.to_json()
    return data


def _wait_json(wait: Wait) -> dict[str, Any]:
    """A wait as `baton trace --json` shows it (`attempt` only for a fallback)."""
    data = dict(vars(wait))
    if data["attempt"] is None:
        del data["attempt"]
    return data


def _verdict(body: ev.EventBody) -> str:
    """How a review round ended, for `baton trace`."""
    match body:
        case ev.ReviewPassed():
            return "passed"
        case ev.RevisionRequested():
            return f"revision requested: {_short(body.feedback)}"
        case ev.ReviewExhausted():
            return f"not passed, rounds exhausted ({body.on_exhausted}): {_short(body.feedback)}"
        case ev.ReviewFailed():
            return f"failed ({body.failure}): {_short(body.message)}"
    return ""


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
