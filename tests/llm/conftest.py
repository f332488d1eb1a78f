"""Fixtures of the llm provider tests: a fake provider server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_providers import API_KEY, KEY_VARIABLE, FakeProvider

from baton.runtime.llm import anthropic_provider, openai_provider


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    server = FakeProvider().start()
    yield server
    server.stop()


@pytest.fixture
def guarded() -> Iterator[FakeProvider]:
    """A server that accepts API_KEY only and quotes any other key in its 401."""
    server = FakeProvider(expected_key=API_KEY).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    # SDK clients are cached per URL; a port reused by a later test must get a new one
    yield
    openai_provider._clients.clear()
    anthropic_provider._clients.clear()


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_VARIABLE, API_KEY)
    return KEY_VARIABLE
