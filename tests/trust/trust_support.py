"""Helpers for the trust tests: `baton` as a real subprocess with this directory on
PYTHONPATH (so `trust_flows:NAME` resolves), the builtin agents' ledger, and runs
driven in-process through `runtime.api`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from baton.runtime import api
from baton.runtime.model import JSON, Workflow

HERE = Path(__file__).resolve().parent
RUNTIME_CORE = str(HERE.parent / "runtime_core")
if RUNTIME_CORE not in sys.path:
    sys.path.append(RUNTIME_CORE)  # rc_fork, after this directory's own modules

from rc_fork import run_forked  # noqa: E402

BATON = str(Path(sys.executable).parent / "baton")


def env(tmp: Path, **extra: str) -> dict[str, str]:
    values = dict(os.environ)
    values["PYTHONPATH"] = os.pathsep.join([str(HERE), values.get("PYTHONPATH", "")])
    values["BATON_LEDGER"] = str(tmp / "ledger.jsonl")
    for name in ("BATON_TEST_KILL_AFTER_EVENT", "OTEL_TRACES_EXPORTER", "TRUST_CRASH_MARKER"):
        values.pop(name, None)
    values.update(extra)
    return values


def baton(
    tmp: Path, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`baton ARGS --db tmp/baton.db` in `tmp`; never raises on a non-zero exit. A real
    process forked from a warm interpreter (tests/runtime_core/rc_fork.py), or the
    installed executable with BATON_TEST_EXEC=1."""
    values = env(tmp, **(extra_env or {}))
    argv = [*args, "--db", str(tmp / "baton.db")]
    if os.environ.get("BATON_TEST_EXEC") != "1":
        return run_forked(argv, tmp, values, 60)
    return subprocess.run(
        [BATON, *argv], cwd=tmp, env=values, capture_output=True, text=True, timeout=60
    )


def ledger(tmp: Path) -> list[dict[str, Any]]:
    path = tmp / "ledger.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def events(tmp: Path, run_id: str) -> list[dict[str, Any]]:
    result = baton(tmp, "events", run_id, "--json")
    assert result.returncode == 0, result.stderr
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


def shown(tmp: Path, run_id: str) -> dict[str, Any]:
    result = baton(tmp, "show", run_id, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def run_here(
    db: Path, workflow: Workflow, inputs: JSON, run_id: str, **options: Any
) -> api.DriveResult:
    """Drive a run in this process (the python agents must be importable: they are)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    loaded = api.LoadedWorkflow(workflow, "pin-" + workflow.name, f"trust_flows:{workflow.name}")
    return api.start_run(db, loaded, inputs, run_id, api.DriverOptions(**options))
