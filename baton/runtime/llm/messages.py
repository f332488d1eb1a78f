"""The conversation of one step with its model, and how a rejected reply is fed back.

A first attempt sends the system prompt and one user message. When its reply fails the
handoff schema (or a reviewer sends it back), the next attempt sends the same
conversation plus the model's previous reply and a user message saying what is wrong,
so the model repairs its answer instead of starting over:

    system, user, assistant (reply 1), user (errors of reply 1), assistant (reply 2), ...

The conversation is provider-neutral text: the previous reply goes back as the text the
model produced (for Anthropic, the forced tool's input as JSON), never as a provider's
tool-call block, so the same conversation serves both providers, and a conversation
rebuilt from the event log is byte-identical to the one first sent (cassettes rely on
that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Role = Literal["user", "assistant", "tool"]

REPAIR_HEADER = (
    "Your previous reply does not match the required JSON schema. Fix each problem "
    "listed below (JSON pointer: reason) and reply again with the complete corrected "
    "JSON, not only the fields that changed:"
)
FEEDBACK_HEADER = (
    "A reviewer sent your previous reply back with this feedback. Revise it and reply "
    "again with the complete revised JSON:"
)
EMPTY_REPLY = "(an empty reply)"


class Issue(Protocol):
    """A validation error: runtime.validate.ValidationIssue fits."""

    @property
    def pointer(self) -> str: ...

    @property
    def message(self) -> str: ...


@dataclass(frozen=True)
class ToolCall:
    """A call the model asked for (runtime.tools): the provider's call id, the tool's
    name, its arguments (a JSON object)."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: name, description, JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """One turn of the conversation. An assistant turn may ask for tool calls
    (`tool_calls`); a `tool` turn answers the call `tool_call_id` with `content`."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True)
class Conversation:
    """What one attempt sends: the system prompt (if any) and the turns, oldest first;
    `tools`: the tools offered to the model (an llm agent with `tools:`)."""

    system: str | None
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "messages": [{"role": m.role, "content": m.content} for m in self.messages],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Conversation:
        turns = tuple(Message(m["role"], m["content"]) for m in data["messages"])
        return cls(data.get("system"), turns)


def start_conversation(system: str | None, user: str) -> Conversation:
    """The first attempt's conversation: the system prompt and the user message.

    >>> [(m.role, m.content) for m in start_conversation("You are Webster.", "Hi.").messages]
    [('user', 'Hi.')]
    """
    return Conversation(system or None, (Message("user", user),))


def repair_messages(
    conversation: Conversation,
    previous_reply_text: str,
    errors: Sequence[Issue] = (),
    *,
    feedback: str | None = None,
    pointer_prefix: str = "",
) -> Conversation:
    """The next attempt's conversation: `conversation`, the model's previous reply, and a
    user message listing each validation error (pointer and reason) and/or a reviewer's
    `feedback`. `pointer_prefix` is the contract's (runtime.llm.structured): "/output"
    when the handoff was wrapped, so pointers name what the model wrote.

    >>> from baton.runtime.validate import ValidationIssue
    >>> first = start_conversation(None, "Write a brief.")
    >>> again = repair_messages(first, '{"summary": 1}',
    ...                         [ValidationIssue("/summary", "1 is not of type 'string'")])
    >>> [m.role for m in again.messages]
    ['user', 'assistant', 'user']
    >>> print(again.messages[-1].content.splitlines()[-1])
    - /summary: 1 is not of type 'string'
    """
    if not errors and not feedback:
        raise ValueError("repair_messages needs validation errors or feedback")
    parts = []
    if errors:
        parts.append(describe_errors(errors, pointer_prefix))
    if feedback:
        parts.append(f"{FEEDBACK_HEADER}\n{feedback}")
    turns = (
        Message("assistant", previous_reply_text or EMPTY_REPLY),
        Message("user", "\n\n".join(parts)),
    )
    return Conversation(conversation.system, conversation.messages + turns, conversation.tools)


def describe_errors(errors: Sequence[Issue], pointer_prefix: str = "") -> str:
    """The repair request: one line per error, `- <pointer>: <reason>`, in the given order
    (runtime.validate sorts them); the whole reply's pointer "" is written `(root)`."""
    lines = [REPAIR_HEADER]
    for issue in errors:
        pointer = pointer_prefix + issue.pointer
        lines.append(f"- {pointer or '(root)'}: {issue.message}")
    return "\n".join(lines)
