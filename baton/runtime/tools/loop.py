"""The tool loop of an llm agent's attempt: ask the model, make the calls it asks for,
give it their results, until it answers with the step's output.

    conversation (with the agent's tools offered)
      -> model: tool calls        -> Toolbox.call each (durable, governed) -> tool turns
      -> model: tool calls ...
      -> model: the structured output (the step's handoff)  => the reply

Bounded by the agent's `max_tool_calls` per attempt: a model that asks for more fails
the attempt (`agent_error`, retried per policy). Usage is the sum of every model call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from baton.runtime.agents.envelope import AgentFailure
from baton.runtime.llm.messages import Conversation, Message
from baton.runtime.llm.reply import LlmReply, LlmUsage
from baton.runtime.model import FailureClass
from baton.runtime.tools.errors import ToolApprovalNeeded
from baton.runtime.tools.toolbox import Toolbox

AskModel = Callable[[Conversation], LlmReply]


def run_tool_loop(
    ask: AskModel, conversation: Conversation, toolbox: Toolbox, max_tool_calls: int
) -> LlmReply:
    """The model's final reply (its usage: every call's), after every tool call it made."""
    conversation = replace(conversation, tools=toolbox.specs())
    made = 0
    input_tokens = output_tokens = 0
    while True:
        reply = ask(conversation)
        input_tokens += reply.usage.input_tokens
        output_tokens += reply.usage.output_tokens
        if not reply.tool_calls:
            return replace(reply, usage=LlmUsage(input_tokens, output_tokens))
        if made + len(reply.tool_calls) > max_tool_calls:
            raise AgentFailure(
                FailureClass.AGENT_ERROR,
                f"the model asked for more than max_tool_calls ({max_tool_calls}) tool "
                "calls in one attempt",
            )
        turns = [Message("assistant", reply.raw_text, tool_calls=reply.tool_calls)]
        for asked in reply.tool_calls:
            made += 1
            try:
                result = toolbox.call(made, asked.name, asked.arguments)
            except ToolApprovalNeeded as pause:  # the attempt stops: what it cost so far
                pause.usage = LlmUsage(input_tokens, output_tokens)
                raise
            turns.append(Message("tool", result, tool_call_id=asked.id))
        conversation = replace(conversation, messages=conversation.messages + tuple(turns))
