"""The adapter of `llm` agents: one model call per attempt, through runtime.llm.

    user message   the step's rendered `prompt:`, or its description plus its rendered
                   input as JSON
    conversation   the agent's system prompt and that message; then, for each earlier
                   reply of the step that was rejected (`AgentCall.history`, rebuilt
                   from the run's log), the reply and the list of what was wrong with it;
                   a review loop's rounds sent back come first, each as the output and
                   the reviewer's feedback (runtime.core.review.revisions)
    output schema  the step's handoff schema
    reply          its output goes back to the driver, which validates it as every
                   output (never trusted); a reply with no JSON in it is a
                   `malformed_output` failure that carries the reply text

The conversation is always rebuilt from the log, in the process that made the earlier
attempts as after a crash or on a Temporal worker, so the same attempt sends the same
bytes wherever it runs (and a cassette recorded by one replays in another).

The cassette (`--cassette DIR --cassette-mode record|replay`) is the process's: the
command line sets it once with `use_cassette`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from baton.runtime.agents.envelope import AgentCall, AgentFailure, AgentReply
from baton.runtime.llm import (
    Cassette,
    Conversation,
    LlmConfig,
    LlmError,
    LlmReply,
    Price,
    build_request,
    call,
    contract_for,
    cost_usd,
    repair_messages,
    start_conversation,
)
from baton.runtime.llm.reply import LlmUsage
from baton.runtime.llm.transport import WireRequest
from baton.runtime.model import JSON, AgentBinding, FailureClass, Usage
from baton.runtime.tools.errors import ToolApprovalNeeded

_cassette: Cassette | None = None
_cassette_lock = threading.Lock()


def use_cassette(cassette: Cassette | None) -> None:
    """Record or replay every model call of this process in `cassette` (None: neither)."""
    global _cassette
    with _cassette_lock:
        _cassette = cassette


def current_cassette() -> Cassette | None:
    return _cassette


@dataclass(frozen=True)
class _Issue:
    """A validation error as recorded in the log (`runtime.llm.messages.Issue`)."""

    pointer: str
    message: str


def call_llm(call_: AgentCall) -> AgentReply:
    """Ask the step's model once; raises AgentFailure for any fault of the call."""
    config = _config(call_.binding)
    schema = call_.request.output_schema
    if schema is None:
        raise AgentFailure(
            FailureClass.AGENT_ERROR,
            f"step '{call_.request.step}' has no `output:` handoff, and an llm agent needs "
            "one: its schema is the model's output contract",
        )
    name = call_.output_ref or "output"
    conversation = conversation_for(call_, config)

    def ask(sent: Conversation) -> LlmReply:
        return call(
            config,
            sent,
            schema,
            call_.request.idempotency_key,
            schema_name=name,
            agent=call_.binding.name,
            cassette=_cassette,
        )

    untrusted: tuple[str, ...] = ()
    try:
        if call_.binding.tools:  # the agent calls tools before it answers
            reply, untrusted = _with_tools(call_, ask, conversation)
        else:
            reply = ask(conversation)
    except ToolApprovalNeeded as pause:  # the attempt waits for a person: priced so far
        if isinstance(pause.usage, LlmUsage):
            pause.usage = Usage(
                pause.usage.input_tokens,
                pause.usage.output_tokens,
                cost_usd(pause.usage, _price(call_.binding)),
            )
        raise
    except LlmError as error:
        # the message is Baton's own, scrubbed of the key (runtime.llm.errors)
        raise AgentFailure(
            FailureClass(error.failure),
            f"step '{call_.request.step}': {error.message}",
            retryable=error.retryable,
        ) from None
    usage = Usage(
        reply.usage.input_tokens,
        reply.usage.output_tokens,
        cost_usd(reply.usage, _price(call_.binding)),
    )
    if reply.parse_error is not None:
        raise AgentFailure(FailureClass.MALFORMED_OUTPUT, reply.parse_error, reply=reply.raw_text)
    model: dict[str, JSON] = {**(model_of(call_.binding) or {}), "response_model": reply.model}
    if reply.retries:  # made inside the call (429, 5xx): recorded, not hidden
        model["transport_retries"] = [retry.to_json() for retry in reply.retries]
    return AgentReply(reply.output, usage, reply.raw_text, model, untrusted=untrusted)


def _with_tools(
    call_: AgentCall, ask: Callable[[Conversation], LlmReply], conversation: Conversation
) -> tuple[LlmReply, tuple[str, ...]]:
    """The reply after the tool loop (runtime.tools), and the tools whose output the
    model read (their text is untrusted, and so is the output)."""
    from baton.runtime.tools.errors import ToolFailure
    from baton.runtime.tools.loop import run_tool_loop
    from baton.runtime.tools.toolbox import Toolbox

    toolbox = Toolbox(
        call_.tools,
        call_.binding,
        call_.request,
        call_.host,
        call_.root,
        call_.untrusted_budget,
        call_.tool_decisions,
    )
    try:
        reply = run_tool_loop(ask, conversation, toolbox, call_.binding.max_tool_calls)
    except ToolFailure as failure:  # a server that would not start, a tool not loadable
        raise AgentFailure(
            failure.failure, f"step '{call_.request.step}': {failure.message}"
        ) from None
    finally:
        toolbox.close()
    return reply, tuple(toolbox.untrusted)


def conversation_for(call_: AgentCall, config: LlmConfig) -> Conversation:
    """The conversation this attempt sends: the first message, then every rejected
    reply of the step so far with what was wrong with it."""
    conversation = start_conversation(config.system, user_message(call_))
    if not call_.history:
        return conversation
    contract = contract_for(call_.request.output_schema, call_.output_ref or "output")
    for repair in call_.history:
        issues = _issues(repair.get("errors"))
        reply = repair.get("reply")
        text = reply if isinstance(reply, str) else ""
        # a review loop's round sent back: the output and the reviewer's feedback
        feedback = repair.get("feedback")
        feedback = feedback if isinstance(feedback, str) and feedback else None
        if not issues and feedback is None:
            continue  # nothing to say about it (cannot happen for a rejection)
        # a reply that held no JSON is wrong as a whole: its reason has no pointer
        prefix = contract.pointer_prefix if repair.get("parsed", True) else ""
        conversation = repair_messages(
            conversation, text, issues, feedback=feedback, pointer_prefix=prefix
        )
    return conversation


def user_message(call_: AgentCall) -> str:
    """The rendered `prompt:`, or the step's description plus its input as JSON."""
    if call_.prompt is not None:
        return call_.prompt
    text = json.dumps(call_.request.input, ensure_ascii=False, indent=2, sort_keys=True)
    description = (call_.description or "").strip()
    parts = [description] if description else []
    parts.append(f"Input (JSON):\n{text}")
    return "\n\n".join(parts)


def request_for(call_: AgentCall) -> WireRequest:
    """The request this attempt would send (`baton run --dry-run`); calls nothing."""
    config = _config(call_.binding)
    schema = call_.request.output_schema
    contract = contract_for(schema if schema is not None else {}, call_.output_ref or "output")
    return build_request(config, conversation_for(call_, config), contract)


def _issues(errors: JSON) -> Sequence[_Issue]:
    if not isinstance(errors, list):
        return ()
    return [
        _Issue(str(error.get("pointer", "")), str(error.get("message", "")))
        for error in errors
        if isinstance(error, dict)
    ]


def model_of(binding: AgentBinding) -> dict[str, JSON] | None:
    """What an attempt of `binding` records of its model (None: not an llm agent)."""
    if binding.llm is None:
        return None
    return {"provider": binding.llm.provider, "model": binding.llm.model}


def _config(binding: AgentBinding) -> LlmConfig:
    if binding.llm is None:
        raise AgentFailure(
            FailureClass.AGENT_ERROR, f"agent '{binding.name}' is of kind llm but has no model"
        )
    return binding.llm


def _price(binding: AgentBinding) -> Price | None:
    if not (binding.input_price_per_mtok or binding.output_price_per_mtok):
        return None
    return Price(binding.input_price_per_mtok, binding.output_price_per_mtok)
