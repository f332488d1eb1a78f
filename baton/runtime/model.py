"""The public types a compiled workflow is made of.

Generated modules (`baton compile`) build a `Workflow` from these and nothing else;
the runtime's drivers execute it. Policy (validation, ACL, retries, approvals) lives in
the runtime, so it can change without regenerating code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeAlias, TypeVar

if TYPE_CHECKING:  # the llm package reads FailureClass from here
    from baton.runtime.llm.config import LlmConfig

JSON: TypeAlias = Any  # a JSON value: None | bool | int | float | str | list | dict


class StepState(StrEnum):
    """Where a step is in its lifecycle (see runtime.lifecycle for the legal moves)."""

    PENDING = "pending"
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    RETRYING = "retrying"
    VALIDATED = "validated"
    # a review loop's reviewer judges the validated output (`review:`; not the
    # after-stage approval, which is AWAITING_REVIEW)
    REVIEWING = "reviewing"
    AWAITING_REVIEW = "awaiting_review"
    COMMITTED = "committed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class FailureClass(StrEnum):
    """Why an attempt or a step failed; only some are ever retried."""

    TIMEOUT = "timeout"
    MALFORMED_OUTPUT = "malformed_output"
    AGENT_ERROR = "agent_error"
    ACL_DENIED = "acl_denied"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    # a model provider kept answering 429 after the call's own transport retries
    RATE_LIMITED = "rate_limited"
    # no case of the step's `route:` matched and it has no default (never retried)
    NO_ROUTE = "no_route"
    # a model agent's tool failed (an MCP server that would not start or crashed, a
    # python tool that raised): runtime.tools
    TOOL_ERROR = "tool_error"


NEVER_RETRIED = frozenset(
    {
        FailureClass.ACL_DENIED,
        FailureClass.REJECTED,
        FailureClass.CANCELLED,
        FailureClass.NO_ROUTE,
    }
)


class Effect(StrEnum):
    """`external`: the step does something irreversible outside Baton."""

    NONE = "none"
    EXTERNAL = "external"


class ApprovalStage(StrEnum):
    BEFORE = "before"
    AFTER = "after"


class AgentKind(StrEnum):
    PYTHON = "python"
    COMMAND = "command"
    HTTP = "http"
    BUILTIN = "builtin"
    LLM = "llm"  # a language model behind an OpenAI-compatible or Anthropic API


class BudgetMode(StrEnum):
    """`enforce`: at the cap no further model call is made and the run waits, resumable
    with a raised budget; `audit`: the crossing is recorded and the run goes on."""

    ENFORCE = "enforce"
    AUDIT = "audit"


@dataclass(frozen=True)
class Budget:
    """A spending cap for one run (a workflow's) or one agent's share of a run."""

    usd: float | None = None
    tokens: int | None = None  # input + output tokens
    mode: BudgetMode = BudgetMode.ENFORCE


# the events a roster's `notify:` sink may subscribe to (runtime.notify). Known names
# whose event a run never records yet (`review_exhausted`) are accepted: they fire once
# the runtime records them.
NOTIFY_EVENTS = (
    "approval_requested",
    "approval_granted",
    "approval_rejected",
    "budget_exceeded",
    "review_exhausted",
    "run_cancelled",
    "run_failed",
    "run_succeeded",
    "tool_approval_requested",  # a model agent's tool call waits (never its arguments)
)


class NotifyFormat(StrEnum):
    """The body a notification sink receives (runtime.notify.messages)."""

    SLACK = "slack"
    DISCORD = "discord"
    JSON = "json"


@dataclass(frozen=True)
class NotifySink:
    """A webhook told about some of a run's events. The URL and the signing secret are
    named by environment variables and read when a notification is sent: never in the
    spec, the generated code or the run's log."""

    url_env: str
    events: tuple[str, ...]
    format: NotifyFormat = NotifyFormat.JSON
    secret_env: str | None = None
    timeout_ms: int = 5000  # per POST
    max_attempts: int = 5


@dataclass(frozen=True)
class AgentBinding:
    """How to call an agent, whom it may delegate to, and its token prices (USD/Mtok).

    `directory`: where the agent is defined (its roster file's directory), relative to
    the workflow's `root`; a command agent's relative program path resolves against it.
    """

    name: str
    kind: AgentKind
    target: str | tuple[str, ...]
    delegates_to: tuple[str, ...] = ()
    input_price_per_mtok: float = 0.0
    output_price_per_mtok: float = 0.0
    directory: str = ""
    llm: LlmConfig | None = None  # kind llm: the model, its endpoint and settings
    budget: Budget | None = None  # this agent's share of a run
    tools: tuple[str, ...] = ()  # the tool ACL: the workflow's tools this agent may call
    max_tool_calls: int = 20  # per attempt (runtime.tools)


class ToolKind(StrEnum):
    MCP_STDIO = "mcp_stdio"  # an MCP server started as a subprocess, spoken to on stdio
    MCP_HTTP = "mcp_http"  # an MCP server at a streamable HTTP URL
    PYTHON = "python"  # a python function, `module:function`, described by its type hints


@dataclass(frozen=True)
class Tool:
    """A roster tool model agents may call (runtime.tools).

    `target`: the command (mcp_stdio), the URL (mcp_http) or `module:function`
    (python); `only`: the server's tools offered (empty: all); `approval_role`: each
    call waits for a person with this role; `directory`: as AgentBinding's.
    """

    name: str
    kind: ToolKind
    target: str | tuple[str, ...]
    only: tuple[str, ...] = ()
    effect: Effect = Effect.NONE
    approval_role: str | None = None
    timeout_ms: int = 30_000
    description: str | None = None
    directory: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: which failure classes, how many attempts, exponential backoff."""

    max_attempts: int = 1
    on: tuple[FailureClass, ...] = ()
    initial_ms: int = 1000
    multiplier: float = 2.0
    max_ms: int = 30_000
    jitter: float = 0.1

    def retries(self, failure: FailureClass, attempt: int) -> bool:
        """Whether a failed `attempt` (1-based) of this class gets another try."""
        return failure not in NEVER_RETRIED and failure in self.on and attempt < self.max_attempts

    def delay_ms(self, attempt: int, jitter_sample: float) -> int:
        """Backoff before the attempt after `attempt`; `jitter_sample` in [0, 1) is data.

        >>> RetryPolicy(initial_ms=1000, multiplier=2, max_ms=30_000, jitter=0).delay_ms(3, 0.5)
        4000
        """
        base = min(self.initial_ms * self.multiplier ** (attempt - 1), self.max_ms)
        spread = base * self.jitter * (2 * jitter_sample - 1)
        return max(0, round(base + spread))


@dataclass(frozen=True)
class Approval:
    """A gate: a principal with `role` decides before the step runs or after it validates."""

    role: str
    stage: ApprovalStage = ApprovalStage.BEFORE
    # no decision within `timeout_ms`: `on_timeout` `reject` (the step fails, class
    # `rejected`) or `escalate` (the request goes to role `escalate_to`, once)
    timeout_ms: int | None = None
    on_timeout: str = "reject"
    escalate_to: str | None = None


class LazyModels:
    """The pydantic models of a generated module, defined on first use.

    A generated module defines its models in a function (`define`, returning name ->
    value) instead of at import, so importing it imports no pydantic. The first read of
    one of `names` (through the module's PEP 562 `__getattr__`, `attribute`), of a
    `ModelRef`, or a call of `define()` runs the function once, under a lock, and stores
    every value in the module's namespace: later reads are plain global reads, and the
    module's own functions see the models as globals.
    """

    def __init__(
        self,
        namespace: dict[str, Any],
        define: Callable[[], dict[str, Any]],
        names: tuple[str, ...],
    ) -> None:
        self._namespace = namespace
        self._define = define
        self.names = frozenset(names)
        self._lock = threading.Lock()
        self._defined: dict[str, Any] | None = None

    def define(self) -> dict[str, Any]:
        """Every model (and value) the module defines lazily, defined at most once."""
        defined = self._defined
        if defined is None:
            with self._lock:
                if self._defined is None:
                    values = self._define()
                    for value in values.values():
                        # `_models.<locals>.X` -> `X`: pickle and reprs find it as a global
                        if isinstance(value, type) and "<locals>" in value.__qualname__:
                            value.__qualname__ = value.__name__
                    self._namespace.update(values)
                    self._defined = values
                defined = self._defined
        return defined

    def attribute(self, name: str) -> Any:
        """A module's `__getattr__`: a lazy name's value; AttributeError for any other
        (so probing a module for `__wrapped__` or `__path__` defines nothing)."""
        if name not in self.names:
            module = self._namespace.get("__name__", "module")
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        return self.define()[name]

    def ref(self, name: str) -> ModelRef:
        """A reference to model `name`, resolved on first read (`Handoff.model`)."""
        if name not in self.names:
            raise KeyError(name)
        return ModelRef(self, name)


@dataclass(frozen=True)
class ModelRef:
    """A generated model by name, defined when first resolved (see LazyModels)."""

    models: LazyModels
    name: str

    def resolve(self) -> type[Any]:
        model: type[Any] = self.models.define()[self.name]
        return model


def _resolved(model: type[Any] | ModelRef | None) -> type[Any] | None:
    return model.resolve() if isinstance(model, ModelRef) else model


@dataclass(frozen=True)
class Handoff:
    """One version of a handoff: its JSON Schema (the authority) and its generated model.

    `model_ref` is the model class or, in generated code, a `ModelRef` that `model`
    resolves on first read: a workflow names its models without defining them (the
    runtime validates with the schema and never reads `model`).
    """

    name: str
    version: int
    schema: JSON
    model_ref: type[Any] | ModelRef | None = field(default=None, repr=False)

    @property
    def model(self) -> type[Any] | None:
        """The generated pydantic model of this version (defined on first read)."""
        return _resolved(self.model_ref)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class Template:
    """A template (`{{ ... }}` in a string) or a bare expression, kept as its source.

    The runtime compiles each once in its sandbox; `spec` names the line it came from.
    """

    source: str
    is_expression: bool = False
    spec: str = ""


@dataclass(frozen=True)
class QualityCheck:
    expr: Template
    weight: float = 1.0


@dataclass(frozen=True)
class Fallback:
    """Another agent that runs a step once its retries are exhausted with one of `on`
    (same input and output contract; the step's retry policy, a fresh attempt budget)."""

    on: tuple[FailureClass, ...]
    agent: str


class OnExhausted(StrEnum):
    """What a review loop does when its last round's review does not pass."""

    FAIL = "fail"  # the step fails with class `review_exhausted`
    ACCEPT = "accept"  # the last output is committed as it is
    ESCALATE = "escalate"  # a person with `escalate_to` decides (approve = commit)


@dataclass(frozen=True)
class Review:
    """A review loop (runtime.core.review): after each round's validated output, agent
    `by` judges it (its output validated against `output`); `pass_when` (over `review`,
    the verdict, and `output`) passes it, else the producer runs again with `feedback`
    rendered from the verdict, at most `max_rounds` rounds."""

    by: str
    output: Handoff
    pass_when: Template
    feedback: Template | None = None  # None: the verdict as JSON
    input: JSON = None  # the reviewer's input tree; None: {"output": <the output>}
    max_rounds: int = 3
    on_exhausted: OnExhausted = OnExhausted.FAIL
    escalate_to: str | None = None  # a role, with on_exhausted escalate


@dataclass(frozen=True)
class RouteCase:
    """A `route:` case: `agent` or `workflow` runs the step when `when` holds; no `when`:
    the default (the last case)."""

    when: Template | None = None
    agent: str | None = None
    workflow: str | None = None


@dataclass(frozen=True)
class Map:
    """A map step runs its agent once per item of the list `over` evaluates to (when the
    step starts), the item bound to `var` in its templates; at most `max_concurrency`
    items at once; up to `tolerate` items may fail (their slots are null). The step's
    output is the list of the items' outputs, in item order (runtime.core.mapping)."""

    over: Template  # a bare expression, e.g. steps.plan.output.subtopics
    var: str  # the item's name in the step's templates (`as:`)
    max_concurrency: int = 4
    tolerate: int = 0


@dataclass(frozen=True)
class Quality:
    """`result_quality_score` = weighted share of checks that hold; below min_score fails."""

    min_score: float
    checks: tuple[QualityCheck, ...]


@dataclass(frozen=True)
class Step:
    """One step of a compiled workflow."""

    id: str
    spec: str  # "file.yaml:LINE", for errors that name the spec line
    agent: str | None = None
    workflow: str | None = None  # a sub-workflow step
    needs: tuple[str, ...] = ()
    condition: Template | None = None
    input: JSON = None  # the input tree; string leaves may hold templates
    output: Handoff | None = None
    timeout_ms: int = 300_000
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    effect: Effect = Effect.NONE
    approval: Approval | None = None
    quality: Quality | None = None
    delegation_chain: tuple[str, ...] = ()
    transitions: tuple[str, ...] = ()  # the lifecycle triggers that apply to this step
    name: str | None = None
    description: str | None = None
    # the template leaves of `input`: (path into the input tree, the template with its spec line)
    templates: tuple[tuple[tuple[str | int, ...], Template], ...] = ()
    # llm agents: the user message (a template); None: the description plus the input as JSON
    prompt: Template | None = None
    # tried in order once the step's retries are exhausted: the first listing the class
    fallbacks: tuple[Fallback, ...] = ()
    # who runs the step, chosen when it becomes ready (runtime.core.route); then `agent`
    # and `workflow` are None
    route: tuple[RouteCase, ...] = ()
    # one attempt per item of a list (runtime.core.mapping); None: an ordinary step
    map: Map | None = None
    review: Review | None = None  # a review loop (validation loop) over the output


@dataclass(frozen=True)
class Workflow:
    """A compiled workflow: what the runtime executes."""

    name: str
    version: int
    spec_path: str
    spec_sha256: str
    steps: tuple[Step, ...]
    generations: tuple[tuple[str, ...], ...]
    inputs_schema: JSON = None
    input_model_ref: type[Any] | ModelRef | None = field(default=None, repr=False)
    owner: str | None = None
    result: str | None = None
    agents: tuple[AgentBinding, ...] = ()
    approvers: tuple[tuple[str, tuple[str, ...]], ...] = ()  # role -> principals
    max_delegation_depth: int = 3
    untrusted_token_budget: int = 2000
    untrusted_inputs: tuple[str, ...] = ()  # JSON pointers into the run input
    description: str | None = None
    handoffs: tuple[Handoff, ...] = ()  # every handoff version, for run-time delegation
    # the spec set's root: python agents import with it first on sys.path, command agents'
    # relative paths start from it. Generated code records it relative to the project
    # directory (as `spec_path`), and the loader that runs the workflow makes it absolute;
    # "" when unknown (a workflow built by hand): agents then resolve as the process does.
    root: str = ""
    budget: Budget | None = None  # per run
    notify: tuple[NotifySink, ...] = ()  # the roster's webhooks (runtime.notify)
    console_url: str | None = None  # where messages link to: CONSOLE_URL/runs/RUN
    tools: tuple[Tool, ...] = ()  # the roster's tools (runtime.tools)

    @property
    def input_model(self) -> type[Any] | None:
        """The generated model of the run input (defined on first read, as Handoff.model)."""
        return _resolved(self.input_model_ref)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def agent(self, name: str) -> AgentBinding:
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(name)

    def tool(self, name: str) -> Tool:
        for tool in self.tools:
            if tool.name == name:
                return tool
        raise KeyError(name)

    def principals(self, role: str) -> tuple[str, ...]:
        return dict(self.approvers).get(role, ())

    def handoff(self, ref: str) -> Handoff:
        """A handoff version by `name@version` (bare `name`: its latest version); from
        `handoffs`, else from the steps' outputs. KeyError if unknown."""
        name, _, version = ref.partition("@")
        known = {(h.name, h.version): h for h in self.handoffs}
        for step in self.steps:
            if step.output is not None:
                known.setdefault((step.output.name, step.output.version), step.output)
        versions = sorted(v for n, v in known if n == name)
        if not versions or (version and (not version.isdigit() or int(version) not in versions)):
            raise KeyError(ref)
        return known[(name, int(version) if version else versions[-1])]


InputT = TypeVar("InputT")


@dataclass(frozen=True)
class Usage:
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


class Delegator(Protocol):
    """What the driver gives an attempt so its agent can delegate (runtime.delegation)."""

    def delegate(self, agent: str, input: JSON, output: str) -> JSON: ...

    @property
    def url(self) -> str: ...


class DelegationUnavailable(RuntimeError):
    """`Request.delegate` outside a run (a hand-built request, a unit test)."""


@dataclass(frozen=True)
class Request(Generic[InputT]):
    """What an agent receives: typed by the generated module as `Request[ResearchInput]`."""

    workflow: str
    run_id: str
    step: str
    attempt: int
    idempotency_key: str
    input: InputT
    output_schema: JSON
    delegation_chain: tuple[str, ...]
    delegation: Delegator | None = field(default=None, compare=False, repr=False)
    # a review loop's feedback so far, one entry per round sent back, oldest first
    feedback: tuple[str, ...] = ()

    def delegate(self, agent: str, input: JSON, output: str) -> JSON:
        """Hand work to `agent` while this agent runs; returns its output, validated
        against handoff `output` ("name@version").

        The runtime checks the roster's ACL for this request's delegation chain, refuses
        an agent already in the chain and chains longer than `max_delegation_depth`,
        records the delegation, and gives it an idempotency key derived from this
        request's, so a resumed run reuses its output instead of delegating again.
        Raises `runtime.agents.AgentFailure`: class `acl_denied` for a refused delegation
        (the step then fails with `acl_denied`, even if the agent catches it), or the
        delegate's own failure class.
        """
        if self.delegation is None:
            raise DelegationUnavailable(
                "this request has no delegation context (it was not made by a Baton run)"
            )
        return self.delegation.delegate(agent, input, output)
