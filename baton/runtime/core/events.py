"""The typed bodies of a run's events, and the envelope the store gives them.

A run is its event log: `apply` folds these bodies into the materialized state, and
nothing else changes it. Bodies are frozen dataclasses; a body's `step` and `attempt`
fields (where it has them) are also the envelope's columns, the rest is its `data`.
`EVENT_TYPES` maps each `type` string to its class, so the log can be read back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from baton.runtime.model import JSON


@dataclass(frozen=True)
class EventBody:
    """Base of every event body; `TYPE` is the stored `type`."""

    TYPE: ClassVar[str] = ""

    def data(self) -> dict[str, JSON]:
        """The body without `step` and `attempt` (stored in their own columns)."""
        names = _DATA_FIELDS.get(type(self))
        if names is None:
            names = tuple(
                f.name for f in dataclasses.fields(self) if f.name not in ("step", "attempt")
            )
            _DATA_FIELDS[type(self)] = names
        return {name: _to_json(getattr(self, name)) for name in names}


_DATA_FIELDS: dict[type[EventBody], tuple[str, ...]] = {}


# -- run lifecycle


@dataclass(frozen=True)
class RunStarted(EventBody):
    """A run begins: what it runs (pinned by `spec_sha256`) and the run's fixed plan.

    `steps` lists step ids in plan order; `triggers` the lifecycle triggers each step
    may use; `gates` each gated step's role, stage and the principals holding the role
    when the run started (so `baton approve` needs no spec).
    """

    TYPE: ClassVar[str] = "run_started"
    workflow: str
    version: int
    spec_sha256: str
    spec: str
    inputs: JSON
    steps: tuple[str, ...]
    triggers: dict[str, tuple[str, ...]]
    gates: dict[str, dict[str, JSON]] = field(default_factory=dict)
    result_step: str | None = None
    parent: dict[str, str] | None = None
    shape: dict[str, str] = field(default_factory=dict)
    # the caps the run starts with, by scope (`run`, `agent:NAME`): runtime.core.budget
    budgets: dict[str, dict[str, JSON]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunResumed(EventBody):
    """A process took the run over; attempts that were running are now interrupted."""

    TYPE: ClassVar[str] = "run_resumed"
    owner: str
    spec_sha256: str
    spec_changed: bool = False


@dataclass(frozen=True)
class RunRedriven(EventBody):
    """`baton retry`: a failed run goes on (runtime.core.redrive). `steps` go back to
    pending with fresh attempt budgets, in plan order; `requested`: the steps `by` named
    (empty: the run's failed steps); the envelope's `ts` says when."""

    TYPE: ClassVar[str] = "run_redriven"
    by: str
    steps: tuple[str, ...]
    requested: tuple[str, ...] = ()


@dataclass(frozen=True)
class CancelRequested(EventBody):
    TYPE: ClassVar[str] = "cancel_requested"
    by: str = ""


@dataclass(frozen=True)
class RunSucceeded(EventBody):
    TYPE: ClassVar[str] = "run_succeeded"
    result_step: str | None = None


@dataclass(frozen=True)
class RunFailed(EventBody):
    """The run failed because of `step` (or of the run itself when `step` is None)."""

    TYPE: ClassVar[str] = "run_failed"
    step: str | None
    failure: str
    message: str


@dataclass(frozen=True)
class RunCancelled(EventBody):
    TYPE: ClassVar[str] = "run_cancelled"
    by: str = ""


# -- approvals


@dataclass(frozen=True)
class ApprovalRequested(EventBody):
    TYPE: ClassVar[str] = "approval_requested"
    step: str
    role: str
    stage: str


@dataclass(frozen=True)
class ApprovalGranted(EventBody):
    """Who decided, with which role, and why; `ts` of the envelope says when."""

    TYPE: ClassVar[str] = "approval_granted"
    step: str
    principal: str
    role: str
    stage: str
    comment: str = ""
    requested_ms: int = 0
    channel: str = ""  # cli | web | api ("" in logs older than identity)
    # sha256 of the subject the decider was shown (runtime.approval_subject): the
    # rendered input (stage before) or the output (after); "" when not bound
    shown_sha256: str = ""


@dataclass(frozen=True)
class ApprovalRejected(EventBody):
    TYPE: ClassVar[str] = "approval_rejected"
    step: str
    principal: str
    role: str
    stage: str
    comment: str = ""
    requested_ms: int = 0
    channel: str = ""  # cli | web | api ("" in logs older than identity)
    # sha256 of the subject the decider was shown (runtime.approval_subject): the
    # rendered input (stage before) or the output (after); "" when not bound
    shown_sha256: str = ""


@dataclass(frozen=True)
class ApprovalVoided(EventBody):
    """A grant bound to what was shown (`shown_sha256`) no longer matches what the step
    would receive (`current_sha256`, after a spec change or a redrive): the grant is
    void and the step waits for a decision again (runtime.core.approvals)."""

    TYPE: ClassVar[str] = "approval_voided"
    step: str
    role: str
    stage: str
    principal: str
    shown_sha256: str
    current_sha256: str


@dataclass(frozen=True)
class ApprovalTimedOut(EventBody):
    """No decision within the gate's `timeout`: `action` (`reject` or `escalate`) is
    recorded next, as `approval_rejected` or `approval_escalated`."""

    TYPE: ClassVar[str] = "approval_timed_out"
    step: str
    role: str
    stage: str
    timeout_ms: int
    action: str


@dataclass(frozen=True)
class ApprovalEscalated(EventBody):
    """A timed-out approval now waits for `role` (the gate's `escalate_to`), afresh."""

    TYPE: ClassVar[str] = "approval_escalated"
    step: str
    stage: str
    from_role: str
    role: str


# -- attempts


@dataclass(frozen=True)
class AttemptStarted(EventBody):
    """Durably recorded before the agent is called: for `external` steps, this is the
    outbox's effect-started record. `restart` marks an interrupted attempt run again
    (same key, same attempt number): for an external step, a re-run effect."""

    TYPE: ClassVar[str] = "attempt_started"
    step: str
    attempt: int
    idempotency_key: str
    attempt_id: str
    external: bool = False
    restart: bool = False
    child_run_id: str | None = None
    agent: str | None = None


@dataclass(frozen=True)
class OutputReceived(EventBody):
    TYPE: ClassVar[str] = "output_received"
    step: str
    attempt: int
    latency_ms: int
    usage: dict[str, JSON] = field(default_factory=dict)
    # llm agents: {"provider", "model", "response_model"} (spans' gen_ai.* attributes),
    # and `transport_retries` ({status, reason, wait_s} each) when the call made any
    llm: dict[str, JSON] | None = None


@dataclass(frozen=True)
class OutputRejected(EventBody):
    """The output failed its schema or its quality bar: never committed."""

    TYPE: ClassVar[str] = "output_rejected"
    step: str
    attempt: int
    failure: str
    message: str
    errors: tuple[dict[str, str], ...] = ()
    quality_score: float | None = None
    preview: str = ""
    # a model's reply as it wrote it (llm agents; bounded): the repair loop feeds it back
    reply: str | None = None


@dataclass(frozen=True)
class AttemptFailed(EventBody):
    """The agent gave no usable reply. `traceback`: what a python agent raised, from its
    own code on, bounded (runtime.driver.attempt); None for other failures. `reply`: a
    model's reply that held no output (not JSON, a refusal), bounded; the repair loop
    feeds it back with `message` as the reason."""

    TYPE: ClassVar[str] = "attempt_failed"
    step: str
    attempt: int
    failure: str
    message: str
    latency_ms: int = 0
    usage: dict[str, JSON] = field(default_factory=dict)
    traceback: str | None = None
    reply: str | None = None
    # False: the agent knows another attempt cannot help (an API refused the key), so
    # the step fails whatever its retry policy says
    retryable: bool = True
    llm: dict[str, JSON] | None = None  # llm agents: as on output_received


@dataclass(frozen=True)
class RetryScheduled(EventBody):
    """`jitter` is the driver's random sample in [0, 1): data, so replay is exact."""

    TYPE: ClassVar[str] = "retry_scheduled"
    step: str
    attempt: int  # the attempt that will run next
    delay_ms: int
    due_ms: int
    jitter: float


@dataclass(frozen=True)
class FallbackStarted(EventBody):
    """The step's retries are exhausted with `failure`, which fallback `index` (1-based,
    in the step's `fallback:` list) catches: `agent` runs the step's next attempts, with
    the step's retry policy and a fresh attempt budget (same idempotency key)."""

    TYPE: ClassVar[str] = "fallback_started"
    step: str
    attempt: int  # the attempt that will run next (attempt numbers go on)
    agent: str
    index: int
    failure: str
    message: str
    previous_agent: str | None = None


@dataclass(frozen=True)
class RouteSelected(EventBody):
    """A routed step became ready: case `case` (1-based, in its `route:` list) matched
    and `target` (`kind` agent or workflow) runs it from now on; `case` 0: none matched
    (the step fails with `no_route`). `reads`: the values its conditions read, by the
    reference as written (a name that was undefined is absent)."""

    TYPE: ClassVar[str] = "route_selected"
    step: str
    case: int
    kind: str = ""
    target: str = ""
    reads: dict[str, JSON] = field(default_factory=dict)


# -- review loops (runtime.core.review); `attempt` is the producer's latest attempt


@dataclass(frozen=True)
class ReviewStarted(EventBody):
    """Durable before reviewer `agent` is called on round `round`'s validated output;
    `idempotency_key` is the round's review key, derived from the step's. `restart`: an
    interrupted review run again (same key)."""

    TYPE: ClassVar[str] = "review_started"
    step: str
    attempt: int
    round: int
    agent: str
    idempotency_key: str
    attempt_id: str
    restart: bool = False


@dataclass(frozen=True)
class ReviewPassed(EventBody):
    """The verdict satisfied `pass_when`: the output goes on to be committed."""

    TYPE: ClassVar[str] = "review_passed"
    step: str
    attempt: int
    round: int
    verdict: JSON
    score: float = 1.0  # the step's review quality (runtime.core.review.score)
    latency_ms: int = 0
    usage: dict[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class RevisionRequested(EventBody):
    """The verdict did not pass and rounds remain: the producer runs again (a new
    round, a fresh attempt budget) with `feedback` added to what it is sent."""

    TYPE: ClassVar[str] = "revision_requested"
    step: str
    attempt: int
    round: int  # the round that did not pass
    verdict: JSON
    feedback: str
    latency_ms: int = 0
    usage: dict[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewExhausted(EventBody):
    """The last round's verdict did not pass: `on_exhausted` says what follows (fail
    with `review_exhausted`, accept the last output, or escalate to a person)."""

    TYPE: ClassVar[str] = "review_exhausted"
    step: str
    attempt: int
    round: int
    verdict: JSON
    feedback: str
    on_exhausted: str
    latency_ms: int = 0
    usage: dict[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewFailed(EventBody):
    """The reviewer gave no usable verdict (an error, a timeout, a verdict that does
    not match its handoff, a `pass_when` that cannot be evaluated): the step fails."""

    TYPE: ClassVar[str] = "review_failed"
    step: str
    attempt: int
    round: int
    failure: str
    message: str
    latency_ms: int = 0
    usage: dict[str, JSON] = field(default_factory=dict)


# -- step outcomes


@dataclass(frozen=True)
class StepValidated(EventBody):
    """The output passed its schema and quality bar. The store keeps `output` once, in
    its outputs table under the idempotency key, not in the event's data."""

    TYPE: ClassVar[str] = "step_validated"
    step: str
    attempt: int
    idempotency_key: str
    checksum: str
    output: JSON = None
    quality_score: float | None = None
    untrusted_sources: tuple[str, ...] = ()  # untrusted values its input received


@dataclass(frozen=True)
class StepCommitted(EventBody):
    TYPE: ClassVar[str] = "step_committed"
    step: str
    attempt: int
    idempotency_key: str
    checksum: str


@dataclass(frozen=True)
class StepSkipped(EventBody):
    TYPE: ClassVar[str] = "step_skipped"
    step: str
    reason: str


@dataclass(frozen=True)
class StepFailed(EventBody):
    TYPE: ClassVar[str] = "step_failed"
    step: str
    failure: str
    message: str


# -- run-time delegation: an agent hands work to another while its attempt runs


@dataclass(frozen=True)
class DelegationRequested(EventBody):
    """Durable before the delegate is called. `chain` ends with the delegate;
    `idempotency_key` is derived from `parent_key` (the step's, or the delegating
    delegation's); `reused`: a resumed attempt got the stored output, nobody was called."""

    TYPE: ClassVar[str] = "delegation_requested"
    step: str
    attempt: int
    agent: str
    chain: tuple[str, ...]
    idempotency_key: str
    parent_key: str
    output: str
    reused: bool = False


@dataclass(frozen=True)
class DelegationDenied(EventBody):
    """The ACL, a loop or the depth cap refused it: the step fails with `acl_denied`."""

    TYPE: ClassVar[str] = "delegation_denied"
    step: str
    attempt: int
    agent: str
    chain: tuple[str, ...]
    idempotency_key: str
    reason: str  # not_allowed | loop | depth | unknown_agent
    message: str


@dataclass(frozen=True)
class DelegationCompleted(EventBody):
    """The delegate's output passed its handoff; kept here (with its checksum) so a
    resumed run reuses it instead of delegating again."""

    TYPE: ClassVar[str] = "delegation_completed"
    step: str
    attempt: int
    agent: str
    idempotency_key: str
    checksum: str
    output: JSON = None
    latency_ms: int = 0
    usage: dict[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class DelegationFailed(EventBody):
    TYPE: ClassVar[str] = "delegation_failed"
    step: str
    attempt: int
    agent: str
    idempotency_key: str
    failure: str
    message: str
    errors: tuple[dict[str, str], ...] = ()
    latency_ms: int = 0
    usage: dict[str, JSON] = field(default_factory=dict)


# -- tool calls of model agents (runtime.tools)


@dataclass(frozen=True)
class ToolCallStarted(EventBody):
    """Durable before the tool is called. `tool`: the roster tool; `name`: the function
    the model called (`search` of server `github`); `key`: the call's idempotency key
    (the step's key, the call's index in the attempt, its name and arguments), passed to
    the tool; `reused`: a completed call with this key is in the log, its result went
    back to the model and the tool was not called again."""

    TYPE: ClassVar[str] = "tool_call_started"
    step: str
    attempt: int
    tool: str
    name: str
    index: int
    key: str
    arguments: JSON = None
    reused: bool = False


@dataclass(frozen=True)
class ToolCallCompleted(EventBody):
    """The tool answered; `result` is what it returned (before it was sanitized for
    the model) with its checksum: a resumed attempt gives it back instead of calling."""

    TYPE: ClassVar[str] = "tool_call_completed"
    step: str
    attempt: int
    tool: str
    name: str
    key: str
    checksum: str
    result: JSON = None
    latency_ms: int = 0


@dataclass(frozen=True)
class ToolCallFailed(EventBody):
    """The call failed (`tool_error`, `timeout`) or was refused before it was made
    (`acl_denied`: a tool outside the agent's `tools:`; no `tool_call_started` then)."""

    TYPE: ClassVar[str] = "tool_call_failed"
    step: str
    attempt: int
    tool: str
    name: str
    key: str
    failure: str
    message: str
    latency_ms: int = 0


@dataclass(frozen=True)
class ToolApprovalRequested(EventBody):
    """The model asked for a call of a tool with `approval:` and no decision on exactly
    that call exists: the attempt ends here, without failing, and the step waits for a
    person with `role` (`principals` hold it, from the roster, when asked). The subject
    shown and bound: `tool`, `name`, `arguments`, `step`, `attempt`, `key` (the call's
    idempotency key); `sha256` is that of its canonical JSON (runtime.canonical). Once
    decided, the attempt runs again (same number and key): the calls it completed are
    given back from the log, and this one is made (granted) or refused (rejected)."""

    TYPE: ClassVar[str] = "tool_approval_requested"
    step: str
    attempt: int
    tool: str
    name: str
    index: int
    key: str
    role: str
    sha256: str
    arguments: JSON = None
    principals: tuple[str, ...] = ()
    latency_ms: int = 0
    usage: dict[str, JSON] = field(default_factory=dict)


# -- budgets (runtime.core.budget)


@dataclass(frozen=True)
class BudgetExceeded(EventBody):
    """A cap was at or over its limit when `step` was about to start an attempt.

    `cap`: `run` or `agent` (then `agent` names it); `measure`: `usd` or `tokens`;
    `mode`: `enforce` (no attempt started: the run waits for a raise) or `audit`
    (recorded once per crossing; the attempt started)."""

    TYPE: ClassVar[str] = "budget_exceeded"
    step: str
    cap: str
    agent: str | None
    measure: str
    spent: float
    limit: float
    mode: str


@dataclass(frozen=True)
class BudgetRaised(EventBody):
    """Someone (`by`) set new limits on a cap; the envelope's `ts` says when.

    `usd`/`tokens`: the cap's limits from now on (None: no limit on that measure);
    `previous`: what they were."""

    TYPE: ClassVar[str] = "budget_raised"
    cap: str
    agent: str | None
    usd: float | None
    tokens: int | None
    by: str
    previous: dict[str, JSON] = field(default_factory=dict)


# -- map steps (runtime.core.mapping): one attempt per item of a list


@dataclass(frozen=True)
class MapStarted(EventBody):
    """A map step starts: the list its `over` evaluated to, resolved once (a resumed
    run maps over these, whatever the scope says by then). `attempt`: the step's own
    (the map as a whole); `checksum`: of `items`."""

    TYPE: ClassVar[str] = "map_started"
    step: str
    attempt: int
    idempotency_key: str
    count: int
    checksum: str
    items: JSON = None  # a list
    agent: str | None = None


@dataclass(frozen=True)
class MapItemStarted(EventBody):
    """Durable before item `index`'s agent is called; `attempt` is the item's own, its
    key the step's key and the index (`restart`: an interrupted attempt run again)."""

    TYPE: ClassVar[str] = "map_item_started"
    step: str
    attempt: int
    index: int
    idempotency_key: str
    attempt_id: str
    restart: bool = False


@dataclass(frozen=True)
class MapItemSucceeded(EventBody):
    """Item `index`'s output passed the step's handoff: its slot of the step's output."""

    TYPE: ClassVar[str] = "map_item_succeeded"
    step: str
    attempt: int
    index: int
    checksum: str
    output: JSON = None
    latency_ms: int = 0
    usage: dict[str, JSON] = field(default_factory=dict)
    untrusted_sources: tuple[str, ...] = ()  # the untrusted values its input received


@dataclass(frozen=True)
class MapItemFailed(EventBody):
    """An attempt of item `index` failed (or its output was rejected)."""

    TYPE: ClassVar[str] = "map_item_failed"
    step: str
    attempt: int
    index: int
    failure: str
    message: str
    latency_ms: int = 0
    usage: dict[str, JSON] = field(default_factory=dict)
    retryable: bool = True


@dataclass(frozen=True)
class MapItemRetryScheduled(EventBody):
    """Item `index` runs again at `due_ms` (the step's retry policy, per item)."""

    TYPE: ClassVar[str] = "map_item_retry_scheduled"
    step: str
    attempt: int  # the item's attempt that will run next
    index: int
    delay_ms: int
    due_ms: int
    jitter: float


@dataclass(frozen=True)
class MapItemDropped(EventBody):
    """Item `index` failed for good and `tolerate` allows it: its slot is null."""

    TYPE: ClassVar[str] = "map_item_dropped"
    step: str
    index: int
    failure: str
    message: str


MAP_EVENTS = (
    MapStarted,
    MapItemStarted,
    MapItemSucceeded,
    MapItemFailed,
    MapItemRetryScheduled,
    MapItemDropped,
)
# -- notifications (runtime.notify): a webhook told about an event of the run


@dataclass(frozen=True)
class NotificationSent(EventBody):
    """Notification `notification` (its Idempotency-Key: run id, `trigger_seq`, `sink`)
    reached sink `sink` (1-based, in the roster's `notify:`) after `attempts` POSTs.
    Never the URL, the secret or the response body. Allowed after the run's end."""

    TYPE: ClassVar[str] = "notification_sent"
    notification: str
    trigger: str  # the event's type
    trigger_seq: int
    sink: int
    attempts: int
    status: int


@dataclass(frozen=True)
class NotificationFailed(EventBody):
    """A POST of the notification failed. `final`: no more tries (attempts used up, or
    a cause another try cannot fix: a missing variable); else the next is due at
    `retry_at_ms`. `message` names a variable, never its value."""

    TYPE: ClassVar[str] = "notification_failed"
    notification: str
    trigger: str
    trigger_seq: int
    sink: int
    attempts: int
    status: int | None
    message: str
    final: bool
    retry_at_ms: int | None = None


NOTIFICATION_EVENTS = (NotificationSent, NotificationFailed)


EVENT_TYPES: dict[str, type[EventBody]] = {
    cls.TYPE: cls
    for cls in (
        RunStarted,
        RunResumed,
        RunRedriven,
        CancelRequested,
        RunSucceeded,
        RunFailed,
        RunCancelled,
        ApprovalRequested,
        ApprovalGranted,
        ApprovalRejected,
        ApprovalVoided,
        ApprovalTimedOut,
        ApprovalEscalated,
        AttemptStarted,
        OutputReceived,
        OutputRejected,
        AttemptFailed,
        RetryScheduled,
        FallbackStarted,
        RouteSelected,
        ReviewStarted,
        ReviewPassed,
        RevisionRequested,
        ReviewExhausted,
        ReviewFailed,
        StepValidated,
        StepCommitted,
        StepSkipped,
        StepFailed,
        DelegationRequested,
        DelegationDenied,
        DelegationCompleted,
        DelegationFailed,
        ToolCallStarted,
        ToolCallCompleted,
        ToolCallFailed,
        ToolApprovalRequested,
        BudgetExceeded,
        BudgetRaised,
        *MAP_EVENTS,
        NotificationSent,
        NotificationFailed,
    )
}

TERMINAL_EVENTS = frozenset({RunSucceeded.TYPE, RunFailed.TYPE, RunCancelled.TYPE})


@dataclass(frozen=True)
class Event:
    """One entry of a run's log: `seq` (1-based, per run), when, which trace, the body."""

    seq: int
    run_id: str
    ts: int  # milliseconds since the epoch, from the driver's clock
    trace_id: str
    body: EventBody

    @property
    def type(self) -> str:
        return self.body.TYPE

    @property
    def step(self) -> str | None:
        step: str | None = getattr(self.body, "step", None)
        return step

    @property
    def attempt(self) -> int | None:
        attempt: int | None = getattr(self.body, "attempt", None)
        return attempt

    def to_json(self) -> dict[str, JSON]:
        """The shape `baton events --json` prints."""
        return {
            "seq": self.seq,
            "type": self.type,
            "run_id": self.run_id,
            "step": self.step,
            "attempt": self.attempt,
            "ts": self.ts,
            "trace_id": self.trace_id,
            "data": self.body.data(),
        }


class EventFormatError(ValueError):
    """A stored event that does not match its type (a corrupt or foreign database)."""


def body_from_data(
    event_type: str, step: str | None, attempt: int | None, data: dict[str, JSON]
) -> EventBody:
    """Rebuild a typed body from its stored columns; raises EventFormatError."""
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise EventFormatError(f"unknown event type '{event_type}'")
    names = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in names:
            raise EventFormatError(f"event '{event_type}' has an unknown field '{name}'")
        values[name] = tuple(value) if name in _TUPLE_FIELDS else value
    if "step" in names:
        values["step"] = step
    if "attempt" in names:
        values["attempt"] = attempt
    if "triggers" in values:
        values["triggers"] = {k: tuple(v) for k, v in values["triggers"].items()}
    try:
        return cls(**values)
    except TypeError as error:
        raise EventFormatError(f"event '{event_type}': {error}") from error


_TUPLE_FIELDS = frozenset(
    {"steps", "errors", "chain", "untrusted_sources", "requested", "principals"}
)


def _to_json(value: Any) -> JSON:
    if isinstance(value, tuple):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    return value
