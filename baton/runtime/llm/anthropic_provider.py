"""`provider: anthropic`: the Anthropic Messages API, through the official `anthropic`
SDK (imported on first call, so `baton lint` never loads it).

Request: `POST {base_url}/v1/messages` with `system`, the turns, one tool whose
`input_schema` is the handoff schema and `tool_choice` forcing it (runtime.llm.
structured), `max_tokens` (required by the API; 4096 when the spec gives none) and
`stop_sequences`. No sampling settings: the Messages API version the SDK speaks
(`anthropic-version: 2026-10-21`) refuses `temperature`, `top_p` and `top_k` on every
model (the SDK no longer has them), and it never had a `seed`; `NOT_SENT` lists them so
the linter can say so.

Reply: the input of the `tool_use` block for that tool is the output (its JSON text is
the `raw_text` fed back on repair). Usage from `usage.input_tokens` (plus cache reads
and writes) and `usage.output_tokens`.

The SDK's own OpenTelemetry spans are turned off: Baton's attempt span carries the
GenAI attributes, and a second span per call would double-count the tokens.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from baton.runtime.llm.clients import ClientCache
from baton.runtime.llm.config import ANTHROPIC_DEFAULT_MAX_TOKENS, LlmConfig
from baton.runtime.llm.messages import Conversation, Message, ToolCall
from baton.runtime.llm.reply import Answer, LlmUsage, as_object, count, parse_json_text
from baton.runtime.llm.sdk_errors import fault_from
from baton.runtime.llm.structured import OutputContract, anthropic_tool
from baton.runtime.llm.transport import IDEMPOTENCY_HEADER, WireRequest, WireResponse, decode

MESSAGES_PATH = "/v1/messages"
CACHE_TOKEN_FIELDS = ("cache_creation_input_tokens", "cache_read_input_tokens")
NOT_SENT = ("seed", "temperature", "top_p")  # LlmConfig fields this API does not take


def build_request(
    config: LlmConfig, conversation: Conversation, contract: OutputContract
) -> WireRequest:
    """The request body exactly as the SDK sends it (tests compare the two)."""
    tool, tool_choice = anthropic_tool(contract)
    body: dict[str, Any] = {
        "model": config.model,
        "max_tokens": config.max_tokens or ANTHROPIC_DEFAULT_MAX_TOKENS,
    }
    if conversation.system:
        body["system"] = conversation.system
    body["messages"] = _turns(conversation.messages)
    offered = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters}
        for t in conversation.tools
    ]
    body["tools"] = [*offered, tool]
    # with the agent's tools offered, the model must call one of them or the answer tool
    body["tool_choice"] = {"type": "any"} if offered else tool_choice
    if config.stop:
        body["stop_sequences"] = list(config.stop)
    path = urllib.parse.urlsplit(config.url).path.rstrip("/") + MESSAGES_PATH
    return WireRequest("anthropic", path, body)


def _turns(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """The turns as Messages API messages: an assistant turn's tool calls as `tool_use`
    blocks, and consecutive tool results as one user message of `tool_result` blocks."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": message.content,
            }
            previous = turns[-1] if turns else None
            if previous is not None and previous["role"] == "user" and _results(previous):
                previous["content"].append(block)
            else:
                turns.append({"role": "user", "content": [block]})
        elif message.tool_calls:
            blocks: list[dict[str, Any]] = []
            if message.content:
                blocks.append({"type": "text", "text": message.content})
            blocks.extend(
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in message.tool_calls
            )
            turns.append({"role": "assistant", "content": blocks})
        else:
            turns.append({"role": message.role, "content": message.content})
    return turns


def _results(turn: dict[str, Any]) -> bool:
    content = turn.get("content")
    return isinstance(content, list) and all(b.get("type") == "tool_result" for b in content)


def send(
    config: LlmConfig, request: WireRequest, idempotency_key: str, api_key: str
) -> WireResponse:
    """One HTTP request, no retries; raises Fault for a transport failure."""
    import anthropic

    client = _clients.get(config, api_key)
    try:
        raw = client.messages.with_raw_response.create(
            **request.body, extra_headers={IDEMPOTENCY_HEADER: idempotency_key}
        )
        content = raw.http_response.read()
        request_id = raw.http_response.headers.get("request-id")
    except anthropic.AnthropicError as error:
        fault = fault_from(error, anthropic)
        if fault is None:
            raise
    else:
        return decode(content, request_id)
    raise fault  # outside the except block, so the SDK error is not its __context__


def parse_response(body: Any, contract: OutputContract, config: LlmConfig) -> Answer:
    """Read a Messages API response body (live or from a cassette)."""
    body = body if isinstance(body, dict) else {}
    usage_body = as_object(body.get("usage"))
    input_tokens = count(usage_body.get("input_tokens")) + sum(
        count(usage_body.get(name)) for name in CACHE_TOKEN_FIELDS
    )
    usage = LlmUsage(input_tokens, count(usage_body.get("output_tokens")))
    model = str(body.get("model") or config.model)
    stop = body.get("stop_reason")
    stop_reason = str(stop) if stop is not None else None
    blocks = [b for b in body.get("content") or [] if isinstance(b, dict)]
    calls = [b for b in blocks if b.get("type") == "tool_use" and b.get("name") == contract.name]
    text = "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
    asked = tuple(
        ToolCall(str(b.get("id") or ""), str(b.get("name") or ""), _object(b.get("input")))
        for b in blocks
        if b.get("type") == "tool_use" and b.get("name") != contract.name
    )
    if asked and not calls:  # the model asks for tools before it answers (runtime.tools)
        return Answer(None, text, None, usage, model, stop_reason, asked)
    if calls:
        tool_input = calls[0].get("input")
        raw_text = json.dumps(tool_input, ensure_ascii=False)
        value, error = contract.unwrap(tool_input)
        return Answer(value if error is None else None, raw_text, error, usage, model, stop_reason)
    # a forced tool was not called (cut off, refused): the text may still hold the answer
    value, error = parse_json_text(text)
    if error is None:
        value, error = contract.unwrap(value)
    if error is not None:
        error = f"the reply does not call the tool {contract.name!r} (stop_reason {stop_reason!r})"
        if stop_reason == "max_tokens":
            error += ": it was cut off at max_tokens"
    return Answer(value if error is None else None, text, error, usage, model, stop_reason)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"_unparsed": value}


def _new_client(config: LlmConfig, api_key: str) -> Any:
    import anthropic

    return anthropic.Anthropic(
        api_key=api_key,
        base_url=config.url,
        timeout=config.timeout_s,
        max_retries=0,  # every retry is Baton's (runtime.llm.transport)
        open_telemetry=False,
    )


_clients = ClientCache(_new_client)
