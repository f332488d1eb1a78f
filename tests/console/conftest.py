from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import (
    Server,
    add_principal,
    start_server,
    start_waiting,
    write_specs,
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`baton serve` over a database with run `r1` waiting at `publish` (its input holds
    an XSS payload), principals alice (role manager) and carol (role ceo)."""
    write_specs(tmp_path)
    start_waiting(tmp_path, "r1")
    tokens = {name: add_principal(tmp_path, name) for name in ("alice", "carol")}
    running = start_server(tmp_path)
    running.tokens = tokens
    try:
        yield running
    finally:
        running.stop()
