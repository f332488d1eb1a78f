"""What a model call returns: the output, the text behind it, usage, and provenance."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from baton.runtime.llm.errors import TransportRetry
from baton.runtime.llm.messages import ToolCall
from baton.runtime.model import JSON


@dataclass(frozen=True)
class LlmUsage:
    """Tokens as the provider counted them. Anthropic's input count includes cache reads
    and writes (as OpenAI's `prompt_tokens` does), so both mean "every token read"."""

    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class LlmReply:
    """One model answer, not yet validated against the handoff (the driver does that).

    `output` is the handoff output (unwrapped, see runtime.llm.structured); when the
    model's reply holds none (not JSON, cut off at max_tokens, a refusal, no tool call)
    `output` is None and `parse_error` says why: a `malformed_output` attempt, whose
    `raw_text` goes back to the model through `repair_messages`.
    """

    output: JSON
    raw_text: str
    parse_error: str | None
    usage: LlmUsage
    model: str
    request_id: str | None
    stop_reason: str | None
    request_key: str  # the cassette key of the request (runtime.llm.cassette)
    retries: tuple[TransportRetry, ...] = ()
    replayed: bool = False
    # the tools the model asked to call instead of answering (runtime.tools)
    tool_calls: tuple[ToolCall, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "raw_text": self.raw_text,
            "parse_error": self.parse_error,
            "usage": {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
            },
            "model": self.model,
            "request_id": self.request_id,
            "stop_reason": self.stop_reason,
            "request_key": self.request_key,
            "retries": [retry.to_json() for retry in self.retries],
            "replayed": self.replayed,
        }


@dataclass(frozen=True)
class Answer:
    """What a provider's response body says, read by its provider module."""

    output: JSON
    raw_text: str
    parse_error: str | None
    usage: LlmUsage
    model: str
    stop_reason: str | None
    tool_calls: tuple[ToolCall, ...] = ()


_FENCE = re.compile(r"\A```[A-Za-z0-9_-]*[ \t]*\n(?P<body>.*?)\n?```\Z", re.DOTALL)


def parse_json_text(text: str) -> tuple[JSON, str | None]:
    """The JSON value a model wrote, or None and why it is not one.

    A reply that is one fenced code block (```json ... ```, which small local models
    write even when asked for JSON) is read as its content.

    >>> parse_json_text('```json\\n{"a": 1}\\n```')
    ({'a': 1}, None)
    >>> parse_json_text("Sure! Here it is")[1]
    'the reply is not JSON (Expecting value at line 1 column 1)'
    """
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group("body").strip()
    if not stripped:
        return None, "the reply is empty"
    try:
        return json.loads(stripped, parse_constant=_reject_constant), None
    except ValueError as error:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        where = (
            f" at line {error.lineno} column {error.colno}"
            if isinstance(error, json.JSONDecodeError)
            else ""
        )
        return None, f"the reply is not JSON ({reason}{where})"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def count(value: Any) -> int:
    """A token count from a response: a non-negative integer, anything else as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))


def as_object(value: Any) -> dict[str, Any]:
    """A response field that should be an object, or {} when it is anything else."""
    return value if isinstance(value, dict) else {}
