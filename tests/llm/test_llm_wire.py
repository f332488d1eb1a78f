"""The provider layer through the real SDKs against a real local server: what goes on
the wire, what comes back, and how transport faults end."""

from __future__ import annotations

import pickle
import threading
from typing import Any

import pytest
from fake_providers import (
    ANTHROPIC_PATH,
    API_KEY,
    KEY_VARIABLE,
    OPENAI_PATH,
    FakeProvider,
    Scripted,
    anthropic_reply,
    config_for,
    error_reply,
    key_in,
    messages_of,
    model_answer,
    openai_reply,
)

from baton.runtime.llm import (
    RATE_LIMITED,
    LlmError,
    TransportRetry,
    build_request,
    call,
    contract_for,
    repair_messages,
    start_conversation,
)
from baton.runtime.validate import validate

BOTH = pytest.mark.parametrize("provider", ["openai", "anthropic"])
IDEMPOTENCY_KEY = "3b5d5c3712955042212fd5c84e8f1b5f8b9c2cdd2cbf1fa1e2c1b0a6e3e2b7f1"

BRIEF = {
    "type": "object",
    "additionalProperties": False,
    "required": ["summary", "confidence"],
    "properties": {
        "summary": {"type": "string", "x-baton-trust": "untrusted"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
GOOD = {"summary": "Tides follow the moon.", "confidence": 0.8}


def ask(provider: str, fake: FakeProvider, **options: Any) -> Any:
    config = config_for(provider, fake, **options.pop("config", {}))
    conversation = options.pop("conversation", start_conversation("You are Webster.", "Tides?"))
    schema = options.pop("schema", BRIEF)
    return call(config, conversation, schema, IDEMPOTENCY_KEY, schema_name="brief@2", **options)


# -- the request


@BOTH
def test_the_request_carries_the_schema_the_key_and_the_idempotency_key(
    provider: str, fake: FakeProvider, key_env: str
) -> None:
    fake.script(model_answer(provider, GOOD, name="brief_2"))
    reply = ask(provider, fake)

    (received,) = fake.received
    assert received.path == (OPENAI_PATH if provider == "openai" else ANTHROPIC_PATH)
    assert received.headers["idempotency-key"] == IDEMPOTENCY_KEY
    assert key_in(received.headers) == API_KEY
    sent_schema = {
        **BRIEF,
        "properties": {
            "summary": {"type": "string"},
            "confidence": BRIEF["properties"]["confidence"],
        },
    }
    if provider == "openai":
        assert received.body["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "brief_2", "schema": sent_schema, "strict": True},
        }
        assert received.body["messages"][0] == {"role": "system", "content": "You are Webster."}
    else:
        assert received.body["tools"][0]["name"] == "brief_2"
        assert received.body["tools"][0]["input_schema"] == sent_schema
        assert received.body["tool_choice"] == {"type": "tool", "name": "brief_2"}
        assert received.body["system"] == "You are Webster."
    assert messages_of(provider, received) == [{"role": "user", "content": "Tides?"}]
    # what went over the wire is exactly the body the cassette key is computed from
    config = config_for(provider, fake)
    contract = contract_for(BRIEF, "brief@2")
    assert (
        received.body
        == build_request(config, start_conversation("You are Webster.", "Tides?"), contract).body
    )

    assert reply.output == GOOD
    assert reply.parse_error is None
    assert reply.retries == ()
    assert not reply.replayed
    if provider == "openai":
        assert (reply.usage.input_tokens, reply.usage.output_tokens) == (21, 9)
        assert (reply.model, reply.request_id, reply.stop_reason) == (
            "gpt-fake-1",
            "req_openai_1",
            "stop",
        )
    else:
        assert (reply.usage.input_tokens, reply.usage.output_tokens) == (30, 12)
        assert (reply.model, reply.request_id) == ("claude-fake-1", "req_anthropic_1")


def test_a_schema_outside_the_strict_subset_is_sent_with_strict_false(
    fake: FakeProvider, key_env: str
) -> None:
    loose = {"type": "object", "properties": {"summary": {"type": "string", "maxLength": 90}}}
    fake.script(openai_reply({"summary": "x"}))
    reply = ask("openai", fake, schema=loose)
    (received,) = fake.received
    assert received.body["response_format"]["json_schema"]["strict"] is False
    assert received.body["response_format"]["json_schema"]["schema"] == loose
    assert reply.output == {"summary": "x"}


def test_anthropic_cache_tokens_count_as_input(fake: FakeProvider, key_env: str) -> None:
    fake.script(
        anthropic_reply(GOOD, tool_name="brief_2", input_tokens=5, cache_read_input_tokens=100)
    )
    assert ask("anthropic", fake).usage.input_tokens == 105


@BOTH
def test_sampling_settings_go_out_as_each_api_names_them(
    provider: str, fake: FakeProvider, key_env: str
) -> None:
    fake.script(model_answer(provider, GOOD, name="brief_2"))
    settings = {"temperature": 0.2, "top_p": 0.9, "seed": 7, "stop": ("END",), "max_tokens": 300}
    ask(provider, fake, config=settings)
    body = fake.received[0].body
    assert body["max_tokens"] == 300
    if provider == "openai":
        assert (body["temperature"], body["top_p"], body["seed"]) == (0.2, 0.9, 7)
        assert body["stop"] == ["END"]
    else:
        # the Messages API refuses sampling settings (and never had a seed)
        assert not {"temperature", "top_p", "seed"} & set(body)
        assert body["stop_sequences"] == ["END"]


@BOTH
def test_a_keyless_local_server_needs_no_variable(
    provider: str, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    fake.script(model_answer(provider, GOOD, name="brief_2"))
    reply = ask(provider, fake, config={"api_key_env": None})
    assert reply.output == GOOD


@BOTH
def test_a_non_object_handoff_is_wrapped_and_unwrapped(
    provider: str, fake: FakeProvider, key_env: str
) -> None:
    fake.script(model_answer(provider, {"output": ["a", "b"]}, name="brief_2"))
    reply = ask(provider, fake, schema={"type": "array", "items": {"type": "string"}})
    assert reply.output == ["a", "b"]
    body = fake.received[0].body
    sent = body["response_format"]["json_schema"] if provider == "openai" else body["tools"][0]
    schema = sent.get("schema", sent.get("input_schema"))
    assert schema["properties"] == {"output": {"type": "array", "items": {"type": "string"}}}


# -- the validation loop


@BOTH
def test_a_malformed_reply_is_repaired_from_the_fed_back_errors(
    provider: str, fake: FakeProvider, key_env: str
) -> None:
    bad = {"summary": 42, "confidence": 3}
    fake.script(
        model_answer(provider, bad, name="brief_2"),
        model_answer(provider, GOOD, name="brief_2"),
    )
    first_conversation = start_conversation("You are Webster.", "Tides?")
    first = ask(provider, fake, conversation=first_conversation)
    issues = validate(BRIEF, first.output)
    assert [issue.pointer for issue in issues] == ["/confidence", "/summary"]

    second_conversation = repair_messages(
        first_conversation,
        first.raw_text,
        issues,
        pointer_prefix=contract_for(BRIEF, "brief@2").pointer_prefix,
    )
    second = ask(provider, fake, conversation=second_conversation)
    assert validate(BRIEF, second.output) == []

    turns = messages_of(provider, fake.received[1])
    assert [turn["role"] for turn in turns] == ["user", "assistant", "user"]
    assert turns[0]["content"] == "Tides?"
    assert turns[1]["content"] == first.raw_text
    assert pytest.approx(__import__("json").loads(turns[1]["content"])) == bad
    for issue in issues:
        assert f"- {issue.pointer}: {issue.message}" in turns[2]["content"]


@BOTH
def test_review_feedback_goes_back_the_same_way(
    provider: str, fake: FakeProvider, key_env: str
) -> None:
    fake.script(
        model_answer(provider, GOOD, name="brief_2"),
        model_answer(provider, GOOD, name="brief_2"),
    )
    conversation = start_conversation(None, "Tides?")
    first = ask(provider, fake, conversation=conversation)
    again = repair_messages(conversation, first.raw_text, feedback="Cite two sources.")
    ask(provider, fake, conversation=again)
    turns = messages_of(provider, fake.received[1])
    assert turns[1]["content"] == first.raw_text
    assert "Cite two sources." in turns[2]["content"]


def test_text_that_is_not_json_is_a_parse_error_with_the_text_kept(
    fake: FakeProvider, key_env: str
) -> None:
    fake.script(openai_reply("Sure! The tides follow the moon."))
    reply = ask("openai", fake)
    assert reply.output is None
    assert reply.parse_error is not None and reply.parse_error.startswith("the reply is not JSON")
    assert reply.raw_text == "Sure! The tides follow the moon."


def test_a_fenced_json_block_is_read(fake: FakeProvider, key_env: str) -> None:
    fake.script(openai_reply('```json\n{"summary": "s", "confidence": 1}\n```'))
    assert ask("openai", fake).output == {"summary": "s", "confidence": 1}


def test_a_refusal_and_a_cut_off_reply_say_so(fake: FakeProvider, key_env: str) -> None:
    fake.script(
        openai_reply(None, refusal="I can't help with that."),
        openai_reply('{"summary": "The tides', finish_reason="length"),
    )
    refused = ask("openai", fake)
    assert refused.parse_error == "the model refused: I can't help with that."
    cut = ask("openai", fake)
    assert cut.parse_error is not None and "cut off" in cut.parse_error
    assert cut.stop_reason == "length"


def test_anthropic_without_the_tool_call_is_a_parse_error(fake: FakeProvider, key_env: str) -> None:
    fake.script(anthropic_reply(None, text="Let me think", stop_reason="max_tokens"))
    reply = ask("anthropic", fake)
    assert reply.output is None
    assert reply.parse_error == (
        "the reply does not call the tool 'brief_2' (stop_reason 'max_tokens'): "
        "it was cut off at max_tokens"
    )
    assert reply.raw_text == "Let me think"


# -- transport faults


@BOTH
def test_429_waits_as_long_as_retry_after_says(
    provider: str, fake: FakeProvider, key_env: str
) -> None:
    fake.script(
        error_reply(429, "slow down", retry_after="1"),
        model_answer(provider, GOOD, name="brief_2"),
    )
    heard: list[TransportRetry] = []
    reply = ask(provider, fake, on_retry=heard.append)
    assert reply.output == GOOD
    first, second = fake.received
    # measured by the server's clock: when the second request arrived
    assert second.at - first.at >= 0.95
    assert second.headers["idempotency-key"] == first.headers["idempotency-key"]
    assert reply.retries == (TransportRetry(429, "http_429: slow down", 1.0),)
    assert heard == list(reply.retries)


@BOTH
def test_a_500_is_retried_then_succeeds(provider: str, fake: FakeProvider, key_env: str) -> None:
    fake.script(error_reply(500, "boom"), model_answer(provider, GOOD, name="brief_2"))
    reply = ask(provider, fake)
    assert reply.output == GOOD
    assert len(fake.received) == 2
    assert [retry.status for retry in reply.retries] == [500]
    assert 0 < reply.retries[0].wait_s <= 0.5


def test_429_until_the_retries_are_spent_is_rate_limited(fake: FakeProvider, key_env: str) -> None:
    fake.script(*[error_reply(429, "slow down", retry_after="0")] * 3)
    with pytest.raises(LlmError) as caught:
        ask("openai", fake)
    assert caught.value.failure == RATE_LIMITED
    assert caught.value.status == 429
    assert len(caught.value.retries) == 2
    assert len(fake.received) == 3  # the first request and transport_retries=2
    assert "after 3 requests" in caught.value.message


def test_the_retry_budget_comes_from_the_config(fake: FakeProvider, key_env: str) -> None:
    fake.script(*[error_reply(503, "busy", retry_after="0")] * 2)
    with pytest.raises(LlmError) as caught:
        ask("anthropic", fake, config={"transport_retries": 1})
    assert caught.value.failure == "agent_error"
    assert caught.value.retryable
    assert len(fake.received) == 2


def test_a_retry_after_beyond_the_cap_fails_at_once(fake: FakeProvider, key_env: str) -> None:
    fake.script(error_reply(429, "come back later", retry_after="120"))
    with pytest.raises(LlmError) as caught:
        ask("openai", fake)
    assert caught.value.failure == RATE_LIMITED
    assert len(fake.received) == 1
    assert "asked to wait 120 s" in caught.value.message


@BOTH
def test_a_dropped_connection_is_retried(provider: str, fake: FakeProvider, key_env: str) -> None:
    fake.script(Scripted(drop=True), model_answer(provider, GOOD, name="brief_2"))
    reply = ask(provider, fake)
    assert reply.output == GOOD
    assert len(fake.received) == 2
    assert reply.retries[0].status is None


def test_a_server_that_is_down_is_an_agent_error(fake: FakeProvider, key_env: str) -> None:
    fake.stop()
    with pytest.raises(LlmError) as caught:
        ask("openai", fake, config={"transport_retries": 1})
    assert caught.value.failure == "agent_error"
    assert caught.value.message.startswith(
        f"cannot reach openai at {fake.openai_base_url} after 2 requests"
    )


@BOTH
def test_a_timeout_is_not_retried(provider: str, fake: FakeProvider, key_env: str) -> None:
    fake.script(Scripted(delay_s=1.5, body={}))
    with pytest.raises(LlmError) as caught:
        ask(provider, fake, config={"timeout_s": 0.3})
    assert caught.value.failure == "timeout"
    assert caught.value.message.endswith("did not answer within 0.3 s")
    assert len(fake.received) == 1


def test_a_200_that_is_not_json_is_an_agent_error(fake: FakeProvider, key_env: str) -> None:
    fake.script(Scripted(body=b"<html>gateway</html>"))
    with pytest.raises(LlmError) as caught:
        ask("openai", fake)
    assert caught.value.failure == "agent_error"
    assert "<html>gateway" in caught.value.message


# -- keys


@BOTH
def test_401_is_not_retried_and_names_the_variable_never_the_key(
    provider: str, guarded: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_key = API_KEY[::-1]
    monkeypatch.setenv(KEY_VARIABLE, wrong_key)
    with pytest.raises(LlmError) as caught:
        ask(provider, guarded)
    error = caught.value
    assert len(guarded.received) == 1
    assert (error.failure, error.status, error.retryable) == ("agent_error", 401, False)
    assert repr(KEY_VARIABLE) in error.message
    # the server quoted the key it got; Baton's message does not
    assert "Incorrect API key provided: [redacted]" in error.message
    assert_key_absent(wrong_key, error)


def test_403_names_the_variable(fake: FakeProvider, key_env: str) -> None:
    fake.script(error_reply(403, "model not enabled"))
    with pytest.raises(LlmError) as caught:
        ask("anthropic", fake)
    assert caught.value.status == 403
    assert not caught.value.retryable
    assert f"the API key in environment variable {KEY_VARIABLE!r}" in caught.value.message
    assert len(fake.received) == 1


@BOTH
@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_missing_variable_is_refused_before_any_request(
    provider: str, value: str | None, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv(KEY_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(KEY_VARIABLE, value)
    with pytest.raises(LlmError) as caught:
        ask(provider, fake)
    assert fake.received == []
    assert caught.value.failure == "agent_error"
    assert not caught.value.retryable
    assert repr(KEY_VARIABLE) in caught.value.message
    assert "no request was sent" in caught.value.message


@BOTH
def test_the_key_is_absent_from_every_failure(
    provider: str, fake: FakeProvider, key_env: str
) -> None:
    # a server that quotes the key in every error body, for every kind of failure
    echo = f"bad request from {API_KEY}"
    fake.script(
        error_reply(400, echo),
        error_reply(500, echo, retry_after="0"),
        error_reply(500, echo, retry_after="0"),
        error_reply(500, echo, retry_after="0"),
        error_reply(429, echo, retry_after="0"),
        error_reply(429, echo, retry_after="0"),
        error_reply(429, echo, retry_after="0"),
    )
    for _ in range(3):
        with pytest.raises(LlmError) as caught:
            ask(provider, fake)
        assert "[redacted]" in caught.value.message
        assert_key_absent(API_KEY, caught.value)


def assert_key_absent(key: str, error: LlmError) -> None:
    texts = [str(error), repr(error), error.message, *map(str, error.args)]
    texts += [retry.reason for retry in error.retries]
    assert all(key not in text for text in texts)
    # nothing that holds the request (and its Authorization header) rides along
    assert error.__context__ is None and error.__cause__ is None
    assert key.encode() not in pickle.dumps(error)
    revived = pickle.loads(pickle.dumps(error))
    assert (revived.failure, revived.message, revived.status) == (
        error.failure,
        error.message,
        error.status,
    )


# -- concurrency


def test_max_concurrency_bounds_calls_in_flight(fake: FakeProvider, key_env: str) -> None:
    fake.script(*[Scripted(openai_reply(GOOD).body, delay_s=0.5)] * 6)
    errors: list[BaseException] = []

    def one() -> None:
        try:
            ask("openai", fake, config={"max_concurrency": 2}, agent="webster")
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(fake.received) == 6
    assert fake.max_in_flight == 2
