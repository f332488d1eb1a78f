"""What goes to an agent and what comes back: the call, the reply envelope, failures.

Request (SPEC.md): `workflow`, `run_id`, `step`, `attempt`, `idempotency_key`, `input`,
`output_schema`, `delegation_chain`. Reply: `{"output": ..., "usage": {"tokens_in": n,
"tokens_out": n, "cost_usd": x}}`, `usage` optional. A python agent may return the bare
output instead (or a pydantic model); command and http agents always send an envelope,
so a reply without `output` from them is a malformed reply, not an output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from baton.runtime.model import JSON, AgentBinding, FailureClass, Request, Tool, Usage

ENVELOPE_KEYS = frozenset({"output", "usage"})


@dataclass(frozen=True)
class AgentCall:
    """One attempt of one step: which agent, what it gets, how long it may take."""

    binding: AgentBinding
    request: Request[JSON]  # input already rendered; output_schema set
    timeout_ms: int
    root: str = ""  # the workflow's root (Workflow.root): where agents resolve from
    # -- for llm agents (runtime.agents.llm_agent); other kinds ignore them
    prompt: str | None = None  # the step's `prompt:`, rendered (None: the step has none)
    description: str | None = None  # the step's description
    output_ref: str | None = None  # the output handoff, `name@version`
    # the step's earlier replies that were rejected, oldest first, from the run's log
    # (core.state.StepRecord.repairs): the conversation is rebuilt from them
    history: tuple[dict[str, JSON], ...] = ()
    # where an llm agent's tool calls are recorded, durably (runtime.tools): the
    # driver's runtime.delegation.DelegationHost; None: the agent cannot call tools
    host: Any = field(default=None, repr=False, compare=False)
    tools: tuple[Tool, ...] = ()  # the workflow's tools (the binding's `tools` may call)
    untrusted_budget: int = 2000  # tokens kept of each tool result (untrusted text)
    # people's decisions on this attempt's tool calls (core.tool_approvals)
    tool_decisions: tuple[dict[str, JSON], ...] = ()

    def __post_init__(self) -> None:
        if self.timeout_ms <= 0:
            raise ValueError(f"timeout_ms must be positive, not {self.timeout_ms}")

    @property
    def timeout_s(self) -> float:
        return self.timeout_ms / 1000


@dataclass(frozen=True)
class AgentReply:
    """An agent's answer: its output (not yet validated against the handoff) and usage."""

    output: JSON
    usage: Usage = field(default_factory=Usage)
    raw_text: str | None = field(default=None, repr=False)  # a model's reply, as written
    # llm agents: {"provider", "model", "response_model"}, recorded for the spans
    llm: dict[str, JSON] | None = field(default=None, repr=False)
    # where untrusted text reached the output from (runtime.tools: `tools.NAME`), taint
    untrusted: tuple[str, ...] = field(default=(), repr=False)


class AgentFailure(Exception):
    """An attempt failed; `failure` says how (it decides whether the step is retried).

    `reply`: the text a model replied with when it held no output at all (not JSON, a
    refusal): recorded, so that the next attempt can show the model what was wrong.
    `retryable` False: another attempt cannot help (an API refused the key); the step
    fails whatever its retry policy says.
    """

    def __init__(
        self,
        failure: FailureClass,
        message: str,
        reply: str | None = None,
        retryable: bool = True,
    ) -> None:
        # both in args, so the exception pickles (a worker may send it across processes)
        super().__init__(failure, message)
        self.failure = FailureClass(failure)
        self.message = message
        self.reply = reply
        self.retryable = retryable

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.failure, self.message, self.reply, self.retryable))

    def __str__(self) -> str:
        return f"{self.failure.value}: {self.message}"


def request_json(request: Request[Any]) -> dict[str, JSON]:
    """The request as the JSON object command and http agents receive (with
    `delegate_url` when the agent may delegate: runtime.agents.delegate_server)."""
    data: dict[str, JSON] = {
        "workflow": request.workflow,
        "run_id": request.run_id,
        "step": request.step,
        "attempt": request.attempt,
        "idempotency_key": request.idempotency_key,
        "input": plain(request.input),
        "output_schema": request.output_schema,
        "delegation_chain": list(request.delegation_chain),
    }
    if request.delegation is not None:
        data["delegate_url"] = request.delegation.url
    return data


def plain(value: Any) -> JSON:
    """A pydantic model as JSON; anything else unchanged.

    By alias (a field renamed `class_` goes out as `class`) and without unset optional
    fields (which would go out as null, and a schema may not allow null).
    """
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return dump(mode="json", by_alias=True, exclude_unset=True)
    return value


def reply_from(raw: Any, binding: AgentBinding, *, bare_allowed: bool) -> AgentReply:
    """Read an agent's reply: an envelope, or (python agents) the bare output.

    A dict whose keys are `output` and optionally `usage` is an envelope; so a python
    agent whose bare output is exactly such an object must wrap it in an envelope.

    >>> from baton.runtime.model import AgentKind
    >>> agent = AgentBinding("a", AgentKind.BUILTIN, "echo", (), 3.0, 15.0)
    >>> reply_from({"output": 1, "usage": {"tokens_in": 1000, "tokens_out": 100}}, agent,
    ...            bare_allowed=False)
    AgentReply(output=1, usage=Usage(tokens_in=1000, tokens_out=100, cost_usd=0.0045))
    """
    if isinstance(raw, AgentReply):
        return AgentReply(_output(raw.output), _priced(raw.usage, binding))
    raw = plain(raw)
    if isinstance(raw, dict) and "output" in raw and raw.keys() <= ENVELOPE_KEYS:
        return AgentReply(_output(raw["output"]), _usage(raw.get("usage"), binding))
    if not bare_allowed:
        raise AgentFailure(
            FailureClass.MALFORMED_OUTPUT,
            'the reply is not an envelope {"output": ..., "usage": {...}}: '
            f"{_describe_keys(raw)}",
        )
    return AgentReply(_output(raw), Usage())


def _output(value: Any) -> JSON:
    value = plain(value)
    problem = json_problem(value)
    if problem is not None:
        raise AgentFailure(FailureClass.MALFORMED_OUTPUT, f"the output is not JSON: {problem}")
    return value


def json_problem(value: Any, path: str = "output") -> str | None:
    """Why `value` is not a JSON value (None when it is).

    >>> json_problem({"a": [1, float("nan")]})
    'output.a[1] is nan, not a JSON number'
    """
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} is {value}, not a JSON number"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} has a {type(key).__name__} key ({key!r})"
            problem = json_problem(item, f"{path}.{key}")
            if problem:
                return problem
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = json_problem(item, f"{path}[{index}]")
            if problem:
                return problem
        return None
    return f"{path} is a Python {type(value).__name__}, not JSON"


def _usage(raw: Any, binding: AgentBinding) -> Usage:
    if raw is None:
        return Usage()
    if isinstance(raw, Usage):
        return _priced(raw, binding)
    if not isinstance(raw, dict):
        raise AgentFailure(
            FailureClass.MALFORMED_OUTPUT, f"usage must be an object, not {type(raw).__name__}"
        )
    tokens_in = _count(raw, "tokens_in")
    tokens_out = _count(raw, "tokens_out")
    cost = raw.get("cost_usd")
    if cost is None:
        return _priced(Usage(tokens_in, tokens_out), binding)
    if isinstance(cost, bool) or not isinstance(cost, int | float) or not 0 <= cost < math.inf:
        raise AgentFailure(
            FailureClass.MALFORMED_OUTPUT, f"usage.cost_usd must be a number >= 0, not {cost!r}"
        )
    return Usage(tokens_in, tokens_out, float(cost))


def _count(raw: dict[str, Any], key: str) -> int:
    value = raw.get(key, 0)
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 12.0 from a JSON encoder that writes floats
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AgentFailure(
            FailureClass.MALFORMED_OUTPUT, f"usage.{key} must be an integer >= 0, not {value!r}"
        )
    return value


def _priced(usage: Usage, binding: AgentBinding) -> Usage:
    """Usage with its cost from the roster's prices when the agent gave tokens only."""
    if usage.cost_usd or not (usage.tokens_in or usage.tokens_out):
        return usage
    cost = (
        usage.tokens_in * binding.input_price_per_mtok
        + usage.tokens_out * binding.output_price_per_mtok
    ) / 1_000_000
    # float noise (0.30000000000000004) would show up in `baton runs` totals
    return Usage(usage.tokens_in, usage.tokens_out, round(cost, 10))


def _describe_keys(raw: Any) -> str:
    if isinstance(raw, dict):
        keys = ", ".join(repr(key) for key in sorted(map(str, raw))[:10])
        return f"an object with keys {keys}" if keys else "an empty object"
    return f"a JSON {type(raw).__name__}"
