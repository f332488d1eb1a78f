"""Cassettes: record against the fake server, replay with it stopped."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from fake_providers import (
    API_KEY,
    KEY_VARIABLE,
    FakeProvider,
    config_for,
    model_answer,
)
from hypothesis import given
from hypothesis import strategies as st

from baton.runtime.llm import (
    Cassette,
    CassetteMiss,
    CassetteMode,
    LlmConfig,
    LlmError,
    build_request,
    call,
    contract_for,
    repair_messages,
    request_key,
    start_conversation,
)
from baton.runtime.llm.transport import WireRequest
from baton.runtime.validate import validate

BOTH = pytest.mark.parametrize("provider", ["openai", "anthropic"])
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["summary"],
    "properties": {"summary": {"type": "string", "minLength": 3}},
}
RUN_1_KEY = "a" * 64
RUN_2_KEY = "b" * 64


def conversation_call(provider: str, fake: FakeProvider, cassette: Cassette, run_key: str) -> Any:
    """A two-attempt conversation: a reply the schema rejects, then its repair."""
    config = config_for(provider, fake)
    conversation = start_conversation("You are Webster.", "Summarize the tides.")
    first = call(config, conversation, SCHEMA, run_key, schema_name="brief@1", cassette=cassette)
    issues = validate(SCHEMA, first.output)
    repaired = repair_messages(conversation, first.raw_text, issues)
    second = call(config, repaired, SCHEMA, run_key, schema_name="brief@1", cassette=cassette)
    return first, second


@BOTH
def test_record_then_replay_with_the_server_stopped(
    provider: str, fake: FakeProvider, key_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.script(
        model_answer(provider, {"summary": "no"}, name="brief_1"),
        model_answer(provider, {"summary": "Tides follow the moon."}, name="brief_1"),
    )
    recorder = Cassette(tmp_path / "cassette", CassetteMode.RECORD)
    recorded = conversation_call(provider, fake, recorder, RUN_1_KEY)
    assert len(fake.received) == 2
    fake.stop()
    # a replay needs no key: a fresh clone or CI replays without one
    monkeypatch.delenv(KEY_VARIABLE)

    player = Cassette(tmp_path / "cassette", CassetteMode.REPLAY)
    replayed = conversation_call(provider, fake, player, RUN_2_KEY)  # another run's key
    for before, after in zip(recorded, replayed, strict=True):
        assert after.replayed and not before.replayed
        assert (after.output, after.raw_text, after.usage, after.request_id) == (
            before.output,
            before.raw_text,
            before.usage,
            before.request_id,
        )
        assert after.request_key == before.request_key
    assert replayed[1].output == {"summary": "Tides follow the moon."}


@BOTH
def test_an_entry_is_readable_json_without_the_key(
    provider: str, fake: FakeProvider, key_env: str, tmp_path: Path
) -> None:
    # a server that quotes the key back in its answer: the entry is scrubbed
    answer = {"summary": f"echo {API_KEY}"}
    fake.script(model_answer(provider, answer, name="brief_1"))
    cassette = Cassette(tmp_path, CassetteMode.RECORD)
    reply = call(
        config_for(provider, fake),
        start_conversation(None, "Summarize."),
        SCHEMA,
        RUN_1_KEY,
        schema_name="brief@1",
        cassette=cassette,
    )
    (entry_path,) = tmp_path.iterdir()  # no temporary file left behind
    assert entry_path.name == f"{reply.request_key}.json"
    text = entry_path.read_text("utf-8")
    assert API_KEY not in text
    assert RUN_1_KEY not in text  # the idempotency key is a header, never in an entry
    entry = json.loads(text)
    assert entry["key"] == reply.request_key
    assert entry["provider"] == provider
    assert entry["request"] == fake.received[0].body
    assert entry["response"]["body"]  # the provider's response, as it came
    assert text.startswith('{\n  "baton_cassette": 1,')  # indented for a reviewer


def test_a_missing_entry_names_the_key_and_sends_nothing(
    fake: FakeProvider, key_env: str, tmp_path: Path
) -> None:
    cassette = Cassette(tmp_path, CassetteMode.REPLAY)
    config = config_for("openai", fake)
    conversation = start_conversation(None, "Summarize.")
    with pytest.raises(CassetteMiss) as caught:
        call(config, conversation, SCHEMA, RUN_1_KEY, cassette=cassette)
    expected = request_key(build_request(config, conversation, contract_for(SCHEMA)))
    assert caught.value.key == expected
    assert expected in caught.value.message
    assert caught.value.failure == "agent_error"
    assert not caught.value.retryable
    assert fake.received == []
    revived = pickle.loads(pickle.dumps(caught.value))
    assert (revived.key, revived.message) == (caught.value.key, caught.value.message)


def test_a_broken_entry_is_reported(fake: FakeProvider, key_env: str, tmp_path: Path) -> None:
    config = config_for("openai", fake)
    conversation = start_conversation(None, "Summarize.")
    key = request_key(build_request(config, conversation, contract_for(SCHEMA)))
    (tmp_path / f"{key}.json").write_text("{not json", "utf-8")
    with pytest.raises(Exception, match="is not a Baton cassette entry"):
        call(config, conversation, SCHEMA, RUN_1_KEY, cassette=Cassette(tmp_path, "replay"))


def test_the_key_ignores_the_host_and_run_specific_fields() -> None:
    conversation = start_conversation(None, "hi")
    contract = contract_for(SCHEMA)
    here, there = (
        build_request(LlmConfig("openai", "m", base_url=url), conversation, contract)
        for url in ("http://127.0.0.1:8000/v1", "https://vllm.internal/v1")
    )
    assert request_key(here) == request_key(there)

    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    key = request_key(WireRequest("openai", "/v1/chat/completions", body))
    tagged = {**body, "metadata": {"run": "r-2"}, "user": "run-2"}
    assert request_key(WireRequest("openai", "/v1/chat/completions", tagged)) == key
    assert request_key(WireRequest("anthropic", "/v1/chat/completions", body)) != key
    assert request_key(WireRequest("openai", "/v2/chat/completions", body)) != key
    changed = {**body, "messages": [{"role": "user", "content": "hi!"}]}
    assert request_key(WireRequest("openai", "/v1/chat/completions", changed)) != key


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


def reordered(value: Any, seed: int) -> Any:
    """`value` with every object's keys in another order (same content)."""
    if isinstance(value, dict):
        items = [(key, reordered(item, seed)) for key, item in value.items()]
        items.sort(key=lambda pair: hash((pair[0], seed)))
        return dict(items)
    if isinstance(value, list):
        return [reordered(item, seed) for item in value]
    return value


@given(body=st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=6), seed=st.integers())
def test_the_key_does_not_depend_on_key_order(body: dict[str, Any], seed: int) -> None:
    shuffled = reordered(body, seed)
    assert request_key(WireRequest("openai", "/v1/x", shuffled)) == request_key(
        WireRequest("openai", "/v1/x", body)
    )


def test_an_entry_that_cannot_be_written_fails_the_call(
    fake: FakeProvider, key_env: str, tmp_path: Path
) -> None:
    (tmp_path / "taken").write_text("a file, not a directory", "utf-8")
    fake.script(model_answer("openai", {"summary": "Tides."}))
    with pytest.raises(LlmError, match="cannot write the cassette entry"):
        call(
            config_for("openai", fake),
            start_conversation(None, "Summarize."),
            SCHEMA,
            RUN_1_KEY,
            cassette=Cassette(tmp_path / "taken", CassetteMode.RECORD),
        )
