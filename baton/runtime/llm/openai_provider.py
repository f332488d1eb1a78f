"""`provider: openai`: any OpenAI-compatible Chat Completions endpoint, through the
official `openai` SDK (imported on first call, so `baton lint` never loads it).

Request: `POST {base_url}/chat/completions` with the system prompt as a `system`
message, the turns, `response_format` (runtime.llm.structured) and the sampling settings
the spec gives. The length limit goes out as `max_completion_tokens` to OpenAI's own API
(where `max_tokens` is deprecated and refused by reasoning models) and as `max_tokens`
to every other server (vLLM, Ollama, llama.cpp read that one).

Reply: `choices[0].message.content` is the JSON text; a `refusal` or a reply cut off at
the length limit (`finish_reason: "length"`) is said so in `parse_error`. Usage from
`usage.prompt_tokens` / `usage.completion_tokens`.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from baton.runtime.llm.clients import ClientCache
from baton.runtime.llm.config import LlmConfig
from baton.runtime.llm.messages import Conversation, Message, ToolCall
from baton.runtime.llm.reply import Answer, LlmUsage, as_object, count, parse_json_text
from baton.runtime.llm.sdk_errors import fault_from
from baton.runtime.llm.structured import OutputContract, openai_response_format
from baton.runtime.llm.transport import IDEMPOTENCY_HEADER, WireRequest, WireResponse, decode

CHAT_PATH = "/chat/completions"
NOT_SENT: tuple[str, ...] = ()  # every LlmConfig setting has a Chat Completions field
OPENAI_HOST = "api.openai.com"


def build_request(
    config: LlmConfig, conversation: Conversation, contract: OutputContract
) -> WireRequest:
    """The request body exactly as the SDK sends it (tests compare the two)."""
    messages: list[dict[str, Any]] = []
    if conversation.system:
        messages.append({"role": "system", "content": conversation.system})
    messages.extend(_turn(m) for m in conversation.messages)
    body: dict[str, Any] = {
        "model": config.model,
        "messages": messages,
        "response_format": openai_response_format(contract),
    }
    if conversation.tools:  # runtime.tools: the agent's tools, as functions
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            }
            for tool in conversation.tools
        ]
    if config.temperature is not None:
        body["temperature"] = config.temperature
    if config.top_p is not None:
        body["top_p"] = config.top_p
    if config.seed is not None:
        body["seed"] = config.seed
    if config.stop:
        body["stop"] = list(config.stop)
    if config.max_tokens is not None:
        body[_max_tokens_field(config)] = config.max_tokens
    path = urllib.parse.urlsplit(config.url).path.rstrip("/") + CHAT_PATH
    return WireRequest("openai", path, body)


def _turn(message: Message) -> dict[str, Any]:
    """One turn as a Chat Completions message (tool calls and tool results included)."""
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": json.dumps(call.arguments, ensure_ascii=False),
                    },
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def send(
    config: LlmConfig, request: WireRequest, idempotency_key: str, api_key: str
) -> WireResponse:
    """One HTTP request, no retries; raises Fault for a transport failure."""
    import openai

    client = _clients.get(config, api_key)
    try:
        raw = client.chat.completions.with_raw_response.create(
            **request.body, extra_headers={IDEMPOTENCY_HEADER: idempotency_key}
        )
        content = raw.http_response.read()
        request_id = raw.http_response.headers.get("x-request-id")
    except openai.OpenAIError as error:
        fault = fault_from(error, openai)
        if fault is None:
            raise
    else:
        return decode(content, request_id)
    raise fault  # outside the except block, so the SDK error is not its __context__


def parse_response(body: Any, contract: OutputContract, config: LlmConfig) -> Answer:
    """Read a Chat Completions response body (live or from a cassette)."""
    body = body if isinstance(body, dict) else {}
    usage_body = as_object(body.get("usage"))
    usage = LlmUsage(
        count(usage_body.get("prompt_tokens")), count(usage_body.get("completion_tokens"))
    )
    model = str(body.get("model") or config.model)
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return Answer(None, "", "the response has no choices", usage, model, None)
    choice = choices[0]
    finish = choice.get("finish_reason")
    stop_reason = str(finish) if finish is not None else None
    message = as_object(choice.get("message"))
    text = _text(message.get("content"))
    calls = tool_calls_of(message.get("tool_calls"))
    if calls:  # the model asks for tools before it answers (runtime.tools)
        return Answer(None, text, None, usage, model, stop_reason, calls)
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        return Answer(
            None, text or refusal, f"the model refused: {refusal}", usage, model, stop_reason
        )
    value, error = parse_json_text(text)
    if error is None:
        value, error = contract.unwrap(value)
    elif finish == "length":
        error = "the reply was cut off at the length limit (finish_reason 'length')"
    return Answer(value if error is None else None, text, error, usage, model, stop_reason)


def tool_calls_of(value: Any) -> tuple[ToolCall, ...]:
    """The `tool_calls` of a message; arguments that are not a JSON object are kept as
    `{"_unparsed": text}` so that the tool's refusal can say so."""
    if not isinstance(value, list):
        return ()
    calls = []
    for index, entry in enumerate(value):
        function = as_object(as_object(entry).get("function"))
        text = function.get("arguments")
        try:
            arguments = json.loads(text) if isinstance(text, str) and text.strip() else {}
        except ValueError:
            arguments = {"_unparsed": text}
        if not isinstance(arguments, dict):
            arguments = {"_unparsed": text}
        call_id = str(as_object(entry).get("id") or f"call_{index}")
        calls.append(ToolCall(call_id, str(function.get("name") or ""), arguments))
    return tuple(calls)


def _text(content: Any) -> str:
    """Message content: a string, or (some servers) a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _max_tokens_field(config: LlmConfig) -> str:
    host = urllib.parse.urlsplit(config.url).hostname or ""
    return "max_completion_tokens" if host == OPENAI_HOST else "max_tokens"


def _new_client(config: LlmConfig, api_key: str) -> Any:
    import openai

    return openai.OpenAI(
        api_key=api_key,
        base_url=config.url,
        timeout=config.timeout_s,
        max_retries=0,  # every retry is Baton's (runtime.llm.transport)
    )


_clients = ClientCache(_new_client)
