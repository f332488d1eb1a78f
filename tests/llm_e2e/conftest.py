"""Fixtures of the llm end-to-end tests: the fake provider server (tests/llm), and
`baton` as a real subprocess talking to it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "llm"))

from fake_providers import API_KEY, FakeProvider


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
