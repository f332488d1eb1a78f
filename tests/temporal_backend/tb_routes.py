"""Routed workflows for the Temporal backend tests (`tb_routes:NAME`): the very ones of
tests/runtime_core/rc_routes.py (`classify` echoes the topic as a `kind`; `handle` is
routed on it: `bug` -> agent `fixer`, flaky, `feature` -> sub-workflow `route_inner`,
the rest -> `helper` (ROUTE) or no case (ROUTE_STRICT)), so both backends run one
definition."""

from __future__ import annotations

import sys
from pathlib import Path

RUNTIME_CORE = str(Path(__file__).resolve().parent.parent / "runtime_core")
if RUNTIME_CORE not in sys.path:
    sys.path.append(RUNTIME_CORE)  # after this directory: its own modules come first

from rc_routes import ROUTE, ROUTE_INNER, ROUTE_STRICT, WORKFLOWS  # noqa: E402

__all__ = ["ROUTE", "ROUTE_INNER", "ROUTE_STRICT", "WORKFLOWS"]
