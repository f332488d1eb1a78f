"""The llm adapter in-process: the user message, the conversation rebuilt from the
recorded repairs, and failures that cross processes."""

from __future__ import annotations

import pickle

from baton.runtime.agents.envelope import AgentCall, AgentFailure
from baton.runtime.agents.llm_agent import conversation_for, user_message
from baton.runtime.llm import LlmConfig
from baton.runtime.model import AgentBinding, AgentKind, FailureClass, Request

CONFIG = LlmConfig("openai", "m", base_url="http://127.0.0.1:9/v1", system="Be brief.")
BINDING = AgentBinding("w", AgentKind.LLM, "m", llm=CONFIG)


def _call(schema: object, **fields: object) -> AgentCall:
    request = Request("wf", "r1", "s", 1, "key", {"topic": "tides"}, schema, ())
    return AgentCall(BINDING, request, 1000, **fields)  # type: ignore[arg-type]


def test_the_user_message_is_the_prompt_or_the_description_and_input() -> None:
    assert user_message(_call({}, prompt="Research tides.")) == "Research tides."
    text = user_message(_call({}, description="Write a brief."))
    assert text == 'Write a brief.\n\nInput (JSON):\n{\n  "topic": "tides"\n}'
    assert user_message(_call({})).startswith("Input (JSON):")


def test_the_conversation_is_rebuilt_from_every_rejected_reply() -> None:
    # a schema that is not an object is wrapped as {"output": ...}: pointers say so
    history = (
        {
            "attempt": 1,
            "reply": "Sure!",
            "errors": [{"pointer": "", "message": "the reply is not JSON"}],
            "parsed": False,
        },
        {
            "attempt": 2,
            "reply": '{"output": 3}',
            "errors": [{"pointer": "", "message": "3 is not of type 'string'"}],
            "parsed": True,
        },
    )
    call = _call({"type": "string"}, prompt="Name a tide.", output_ref="name@1", history=history)
    conversation = conversation_for(call, CONFIG)
    assert conversation.system == "Be brief."
    turns = [(m.role, m.content.splitlines()[-1]) for m in conversation.messages]
    assert turns == [
        ("user", "Name a tide."),
        ("assistant", "Sure!"),
        ("user", "- (root): the reply is not JSON"),  # no pointer into a reply with no JSON
        ("assistant", '{"output": 3}'),
        ("user", "- /output: 3 is not of type 'string'"),
    ]


def test_a_failure_with_its_reply_crosses_processes() -> None:
    failure = AgentFailure(FailureClass.MALFORMED_OUTPUT, "not JSON", reply="Sure!")
    again = pickle.loads(pickle.dumps(failure))
    assert (again.failure, again.message, again.reply, again.retryable) == (
        FailureClass.MALFORMED_OUTPUT,
        "not JSON",
        "Sure!",
        True,
    )
    final = pickle.loads(
        pickle.dumps(AgentFailure(FailureClass.AGENT_ERROR, "401", retryable=False))
    )
    assert final.retryable is False
