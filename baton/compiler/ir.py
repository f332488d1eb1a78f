"""The IR: frozen dataclasses every stage after the loader reads.

Every user-written value carries a Span; no stage goes back to raw YAML, except that
schemas keep their YNode so findings inside a schema can point at the exact key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from baton.compiler.span import Span
from baton.compiler.yamlnodes import JSON, YNode

DEFAULT_TIMEOUT_MS = 5 * 60 * 1000
DEFAULT_MAX_DELEGATION_DEPTH = 3
DEFAULT_MAX_REVIEW_ROUNDS = 5  # roster policy `max_review_rounds`
DEFAULT_UNTRUSTED_TOKEN_BUDGET = 2000


@dataclass(frozen=True)
class Name:
    """A name the user wrote (an agent, a step, a role), with its position."""

    value: str
    span: Span


@dataclass(frozen=True)
class Template:
    """A `{{ template }}` string leaf, or a bare expression (`if:`, quality checks)."""

    source: str
    span: Span
    is_expression: bool
    # where the scalar's text starts relative to span (1 for a quoted scalar)
    content_offset: int = 0


@dataclass(frozen=True)
class InputValue:
    """A step input tree: plain JSON with the templates found in its string leaves."""

    data: JSON
    templates: tuple[tuple[tuple[str | int, ...], Template], ...]
    span: Span


@dataclass(frozen=True)
class Schema:
    """A JSON Schema with where it came from: inline, or a `$ref` file resolved."""

    value: JSON
    span: Span
    node: YNode | None  # the node holding the schema, for findings inside it
    base: Path  # the file relative `$ref`s in it resolve against


@dataclass(frozen=True)
class AgentRun:
    """How an agent is called: kind is python | command | http | builtin | llm (whose
    target is `provider:model`, its settings in `Agent.llm`)."""

    kind: str
    target: str | tuple[str, ...]
    span: Span
    target_span: Span | None = None  # the target as written (`echo`, `"agents.x:run"`)


@dataclass(frozen=True)
class Price:
    """USD per million tokens, for agents that report tokens but no cost."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0


@dataclass(frozen=True)
class LlmSettings:
    """A `run: {llm: ...}` block: which model, where, and how it is asked.

    `system` holds the system prompt, written inline or read at build time from
    `system_file` (as written, resolved relative to the roster file and confined to the
    spec root; `system` stays None when the file is refused or missing: rules B004 and
    B505 say so). `spans` says where each setting is written, for findings.
    """

    provider: str
    model: str
    span: Span
    base_url: str | None = None
    api_key_env: str | None = None
    system: str | None = None
    system_file: Name | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    max_concurrency: int | None = None
    timeout_ms: int | None = None
    transport_retries: int | None = None
    spans: dict[str, Span] = field(default_factory=dict)


@dataclass(frozen=True)
class Budget:
    """A spending cap: a workflow's per run, a roster agent's share of a run."""

    span: Span
    usd: float | None = None
    tokens: int | None = None
    mode: str = "enforce"  # enforce | audit


@dataclass(frozen=True)
class Agent:
    name: str
    span: Span
    run: AgentRun
    delegates_to: tuple[Name, ...]
    delegates_to_span: Span | None
    description: str | None = None
    price: Price | None = None
    llm: LlmSettings | None = None  # run kind llm
    budget: Budget | None = None
    tools: tuple[Name, ...] = ()  # the tool ACL: roster tools this agent may call
    tools_span: Span | None = None
    max_tool_calls: int | None = None  # per attempt; None: the runtime's default


DEFAULT_TOOL_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Tool:
    """A roster `tools:` entry: an MCP server (`kind` mcp_stdio with the command as
    `target`, or mcp_http with the URL) or a python function (`module:function`)."""

    name: str
    span: Span
    kind: str  # mcp_stdio | mcp_http | python ("" when the entry names no source: B002)
    target: str | tuple[str, ...]
    target_span: Span
    only: tuple[Name, ...] = ()
    effect: str = "none"  # none | external
    effect_span: Span | None = None
    approval_role: Name | None = None
    timeout_ms: int = DEFAULT_TOOL_TIMEOUT_MS
    description: str | None = None
    sources: tuple[str, ...] = ()  # which of `mcp`, `python` the entry has (B706: one)


@dataclass(frozen=True)
class Policy:
    max_delegation_depth: int = DEFAULT_MAX_DELEGATION_DEPTH
    require_approval_for_external: bool = True
    max_review_rounds: int = DEFAULT_MAX_REVIEW_ROUNDS


@dataclass(frozen=True)
class NotifySink:
    """One `notify:` entry: a webhook named by an environment variable (never the URL)."""

    span: Span
    url_env: Name | None
    events: tuple[Name, ...]
    format: str = "json"  # slack | discord | json
    secret_env: Name | None = None
    timeout_ms: int = 5000
    max_attempts: int = 5


@dataclass(frozen=True)
class Roster:
    """Agents, approver roles and policy: a roster file, or inline in a workflow."""

    key: str  # the roster file's path, or "<inline:workflow>"
    span: Span
    agents: dict[str, Agent]
    approvers: dict[str, tuple[Name, ...]]
    policy: Policy
    description: str | None = None
    notify: tuple[NotifySink, ...] = ()
    console_url: Name | None = None
    tools: dict[str, Tool] = field(default_factory=dict)


@dataclass(frozen=True)
class HandoffVersion:
    version: int
    span: Span
    schema: Schema


@dataclass(frozen=True)
class Handoff:
    name: str
    span: Span
    compatibility: str
    versions: dict[int, HandoffVersion]
    description: str | None = None

    @property
    def latest(self) -> int:
        return max(self.versions)


@dataclass(frozen=True)
class OutputRef:
    """`brief@2` (or bare `brief`, the latest version)."""

    handoff: str
    version: int | None
    span: Span


@dataclass(frozen=True)
class Backoff:
    initial_ms: int = 1000
    multiplier: float = 2.0
    max_ms: int = 30_000
    jitter: float = 0.1


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 1
    on: tuple[str, ...] = ()
    backoff: Backoff = field(default_factory=Backoff)


@dataclass(frozen=True)
class Fallback:
    """A `fallback:` entry: `agent` runs the step once its retries are exhausted with
    one of `on` (failure classes, as written)."""

    on: tuple[Name, ...]
    agent: Name
    span: Span


@dataclass(frozen=True)
class RouteCase:
    """A `route:` case: `agent` or `workflow` runs the step when `when` holds (no
    `when`: the default). Both or neither is B610."""

    when: Template | None
    agent: Name | None
    workflow: Name | None
    span: Span

    @property
    def target(self) -> Name | None:
        return self.agent or self.workflow


@dataclass(frozen=True)
class Map:
    """A step's `map:` (compiler.rules.maps): run the step once per item of the list
    `over` reads, the item named `var` in its templates. The numbers as written (None:
    not given, the default applies), each with its position for the rules."""

    over: Template  # a bare expression
    var: Name
    span: Span
    max_concurrency: int | None = None
    max_concurrency_span: Span | None = None
    tolerate: int | None = None
    tolerate_span: Span | None = None


@dataclass(frozen=True)
class Review:
    """A step's `review:` loop (runtime.core.review)."""

    by: Name
    output: OutputRef | None
    input: InputValue | None  # None: {output: "{{ output }}"}
    pass_when: Template | None
    feedback: Template | None
    max_rounds: int
    on_exhausted: str  # fail | accept | escalate
    escalate_to: Name | None
    span: Span
    max_rounds_span: Span | None = None
    on_exhausted_span: Span | None = None

    def templates(self) -> list[Template]:
        found = [template for _, template in self.input.templates] if self.input else []
        return found + [t for t in (self.pass_when, self.feedback) if t is not None]


@dataclass(frozen=True)
class Approval:
    role: Name
    stage: str  # before | after
    span: Span
    description: str | None = None
    # no decision within `timeout` (a duration, as written): `on_timeout` (reject |
    # escalate) happens; escalation goes to role `escalate_to` (rules/approval_timeouts)
    timeout: Name | None = None
    on_timeout: Name | None = None
    escalate_to: Name | None = None


@dataclass(frozen=True)
class QualityCheck:
    expr: Template
    weight: float = 1.0
    description: str | None = None


@dataclass(frozen=True)
class Quality:
    min_score: float
    checks: tuple[QualityCheck, ...]
    span: Span


@dataclass(frozen=True)
class Step:
    id: str
    span: Span
    agent: Name | None
    workflow: Name | None
    delegated_by: Name | None
    needs: tuple[Name, ...]
    condition: Template | None
    input: InputValue | None
    output: OutputRef | None
    timeout_ms: int
    retry: RetryPolicy
    effect: str
    approval: Approval | None
    quality: Quality | None
    name: str | None = None
    description: str | None = None
    prompt: Template | None = None  # llm agents: the user message
    fallbacks: tuple[Fallback, ...] = ()
    route: tuple[RouteCase, ...] = ()  # who runs the step, chosen when it becomes ready
    map: Map | None = None
    review: Review | None = None

    def templates(self) -> list[Template]:
        """Every template and expression of the step: the prompt, the input's, the
        condition, the route's conditions, the quality checks."""
        found = [self.prompt] if self.prompt else []
        found += [template for _, template in self.input.templates] if self.input else []
        if self.condition:
            found.append(self.condition)
        found.extend(case.when for case in self.route if case.when)
        if self.quality:
            found.extend(check.expr for check in self.quality.checks)
        if self.map:
            found.append(self.map.over)
        return found


@dataclass(frozen=True)
class Workflow:
    name: str
    span: Span
    path: str
    version: int
    roster_ref: Name | None  # `roster: file.yaml`
    roster: Roster | None  # inline, or resolved from roster_ref
    owner: Name | None
    inputs: Schema | None
    handoffs: dict[str, Handoff]
    steps: dict[str, Step]
    result: Name | None
    untrusted_token_budget: int = DEFAULT_UNTRUSTED_TOKEN_BUDGET
    description: str | None = None
    budget: Budget | None = None  # per run


@dataclass(frozen=True)
class SpecSet:
    """Everything the linter and the compiler see: workflows and rosters across files."""

    workflows: dict[str, Workflow]
    rosters: dict[str, Roster]
    sources: dict[str, tuple[str, ...]]  # display path -> source lines, for carets
    # sha256 of each spec file's bytes, for generated headers and run pinning
    hashes: dict[str, str] = field(default_factory=dict)
    # the directory every file a spec names must be inside (compiler.files), as given
    root: str = "."
    # spec files found under the root that resolve outside it (symlinks): never read (B004)
    outside: tuple[str, ...] = ()
