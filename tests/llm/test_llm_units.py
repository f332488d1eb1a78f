"""The pure parts of the provider layer: config, messages, waits, costs, imports."""

from __future__ import annotations

import contextlib
import email.utils
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from baton.runtime.llm import (
    Conversation,
    LlmConfig,
    LlmError,
    LlmUsage,
    Price,
    TransportRetry,
    build_request,
    contract_for,
    cost_usd,
    repair_messages,
    settings_not_sent,
    start_conversation,
)
from baton.runtime.llm.transport import (
    BACKOFF_MAX_S,
    CallSite,
    Fault,
    WireResponse,
    backoff_s,
    retry_after_s,
    send_with_retries,
)
from baton.runtime.validate import ValidationIssue

# -- config


def test_a_config_crosses_json_unchanged() -> None:
    config = LlmConfig(
        "anthropic",
        "claude-x",
        base_url="http://127.0.0.1:9/",
        api_key_env="ANTHROPIC_KEY",
        system="You are Mario.",
        max_tokens=900,
        stop=("END",),
        max_concurrency=3,
        timeout_s=20,
        transport_retries=4,
    )
    assert LlmConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    assert config.url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"provider": "gemini"}, "unknown provider 'gemini' (providers: anthropic, openai)"),
        ({"model": ""}, "model must not be empty"),
        ({"temperature": 2.5}, "temperature must be between 0 and 2, not 2.5"),
        ({"top_p": -0.1}, "top_p must be between 0 and 1"),
        ({"max_concurrency": 0}, "max_concurrency must be an integer >= 1, not 0"),
        ({"timeout_s": 0}, "timeout_s must be a positive number"),
        ({"transport_retries": -1}, "transport_retries must be >= 0"),
    ],
)
def test_a_config_a_linter_should_have_refused_is_a_bug(
    fields: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {"provider": "openai", "model": "m", **fields}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LlmConfig(**values)  # type: ignore[arg-type]


def test_which_variable_holds_the_key() -> None:
    assert LlmConfig("openai", "m").key_variable == "OPENAI_API_KEY"
    assert LlmConfig("anthropic", "m").key_variable == "ANTHROPIC_API_KEY"
    assert LlmConfig("openai", "m", api_key_env="MY_KEY").key_variable == "MY_KEY"
    # a server of one's own (Ollama, vLLM, llama.cpp) takes no key unless told so
    assert LlmConfig("openai", "m", base_url="http://127.0.0.1:11434/v1").key_variable is None


def test_settings_an_api_does_not_take_are_listed_for_the_linter() -> None:
    assert settings_not_sent(LlmConfig("openai", "m", temperature=0.1, seed=1)) == []
    assert settings_not_sent(LlmConfig("anthropic", "m", top_p=0.5)) == ["top_p"]


def test_openai_itself_gets_max_completion_tokens() -> None:
    contract = contract_for({"type": "object"})
    conversation = start_conversation(None, "hi")
    public = build_request(LlmConfig("openai", "m", max_tokens=5), conversation, contract)
    local = build_request(
        LlmConfig("openai", "m", max_tokens=5, base_url="http://127.0.0.1:8000/v1"),
        conversation,
        contract,
    )
    assert public.body["max_completion_tokens"] == 5 and "max_tokens" not in public.body
    assert local.body["max_tokens"] == 5 and "max_completion_tokens" not in local.body
    assert (public.path, local.path) == ("/v1/chat/completions", "/v1/chat/completions")


# -- messages


def test_the_repair_turns_keep_the_conversation_and_list_each_error() -> None:
    first = start_conversation("You are Webster.", "Research tides.")
    issues = [
        ValidationIssue("", "'confidence' is a required property"),
        ValidationIssue("/sources/0", "'x' is not a 'uri'"),
    ]
    again = repair_messages(first, '{"summary": "s"}', issues)
    assert again.system == "You are Webster."
    assert again.messages[:2] == (first.messages[0], again.messages[1])
    assert again.messages[1].role == "assistant"
    assert again.messages[1].content == '{"summary": "s"}'
    lines = again.messages[2].content.splitlines()
    assert lines[1:] == [
        "- (root): 'confidence' is a required property",
        "- /sources/0: 'x' is not a 'uri'",
    ]
    # a second repair grows the same conversation
    third = repair_messages(again, "{}", issues[:1])
    assert [m.role for m in third.messages] == ["user", "assistant", "user", "assistant", "user"]
    assert Conversation.from_json(json.loads(json.dumps(third.to_json()))) == third


def test_a_wrapped_handoff_names_pointers_as_the_model_wrote_them() -> None:
    again = repair_messages(
        start_conversation(None, "List."),
        '{"output": [1]}',
        [ValidationIssue("", "boom"), ValidationIssue("/0", "1 is not of type 'string'")],
        pointer_prefix="/output",
    )
    assert again.messages[-1].content.splitlines()[1:] == [
        "- /output: boom",
        "- /output/0: 1 is not of type 'string'",
    ]


def test_feedback_and_errors_can_go_together_and_an_empty_reply_is_named() -> None:
    again = repair_messages(
        start_conversation(None, "Write."), "", [ValidationIssue("/a", "bad")], feedback="Shorter."
    )
    assert again.messages[1].content == "(an empty reply)"  # the API refuses empty turns
    assert "- /a: bad" in again.messages[2].content
    assert again.messages[2].content.endswith("Shorter.")
    with pytest.raises(ValueError):
        repair_messages(start_conversation(None, "Write."), "x")


# -- waits


@given(seconds=st.integers(min_value=0, max_value=10**6))
def test_retry_after_in_seconds(seconds: int) -> None:
    assert retry_after_s({"retry-after": str(seconds)}, 1e9) == seconds


@given(
    seconds=st.integers(min_value=0, max_value=10**5),
    now=st.floats(min_value=1e9, max_value=2e9),
)
def test_retry_after_as_an_http_date(seconds: int, now: float) -> None:
    header = email.utils.formatdate(now + seconds, usegmt=True)  # whole seconds
    wait = retry_after_s({"retry-after": header}, now)
    # the date has whole seconds: the wait is within the second before `seconds`
    assert wait is not None and seconds - 1 <= wait <= seconds + 1e-3


def test_a_date_in_the_past_means_now_and_nonsense_means_nothing() -> None:
    assert retry_after_s({"retry-after": "Thu, 01 Jan 1970 00:00:00 GMT"}, 100.0) == 0.0
    assert retry_after_s({"retry-after": "-5"}, 0.0) == 0.0
    assert retry_after_s({"retry-after": "nan"}, 0.0) is None
    assert retry_after_s({}, 0.0) is None


@given(number=st.integers(min_value=0, max_value=50), sample=st.floats(0, 1, exclude_max=True))
def test_backoff_grows_within_its_window(number: int, sample: float) -> None:
    wait = backoff_s(number, sample)
    assert 0 < wait <= BACKOFF_MAX_S
    floor = backoff_s(number, 0.0)  # half the window
    assert floor <= wait <= 2 * floor


def test_the_slot_is_held_per_request_not_while_waiting() -> None:
    events: list[str] = []
    answers = iter([Fault("status", "busy", status=503), WireResponse({}, "r")])

    def send() -> WireResponse:
        events.append("send")
        answer = next(answers)
        if isinstance(answer, Fault):
            raise answer
        return answer

    @contextlib.contextmanager
    def slot() -> Iterator[None]:
        events.append("acquire")
        try:
            yield
        finally:
            events.append("release")

    site = CallSite("openai", "http://x/v1", "K", 5.0)
    response, retries = send_with_retries(
        send, site, 2, slot=slot, sleep=lambda s: events.append("sleep")
    )
    assert events == ["acquire", "send", "release", "sleep", "acquire", "send", "release"]
    assert response.request_id == "r"
    assert [retry.status for retry in retries] == [503]


def test_other_client_errors_are_not_retried() -> None:
    calls = []

    def send() -> WireResponse:
        calls.append(1)
        raise Fault("status", "invalid_request_error: bad schema", status=400)

    with pytest.raises(LlmError) as caught:
        send_with_retries(send, CallSite("openai", "http://x/v1", "K", 5.0), 2)
    assert len(calls) == 1
    assert (
        caught.value.message
        == "openai at http://x/v1 answered HTTP 400: invalid_request_error: bad schema"
    )
    assert not caught.value.retryable


def test_a_keyless_agent_refused_is_told_to_set_a_variable() -> None:
    def send() -> WireResponse:
        raise Fault("status", "", status=401)

    with pytest.raises(LlmError) as caught:
        send_with_retries(send, CallSite("openai", "http://x/v1", None, 5.0), 2)
    assert "no API key was sent" in caught.value.message
    assert "set api_key_env" in caught.value.message


def test_transport_retry_json() -> None:
    assert TransportRetry(429, "slow", 1.0).to_json() == {
        "status": 429,
        "reason": "slow",
        "wait_s": 1.0,
    }


# -- cost


def test_cost_from_the_price_table() -> None:
    assert cost_usd(LlmUsage(1_000_000, 500_000), Price(0.4, 1.6)) == 1.2
    assert cost_usd(LlmUsage(3, 3), None) == 0.0
    with pytest.raises(ValueError):
        Price(-1, 0)


# -- imports


def test_importing_the_package_loads_no_sdk() -> None:
    code = (
        "import sys, baton.runtime.llm; "
        "print(sorted(m for m in ('openai', 'anthropic', 'httpx', 'httpx2') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
