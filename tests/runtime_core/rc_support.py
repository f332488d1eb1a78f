"""Helpers for the runtime tests: the `baton` CLI as a real subprocess, the ledger, the
database read directly (to check what the store wrote, not what it reports)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent  # the repository: its example package `generated` is not installed
BATON = str(Path(sys.executable).parent / "baton")

# what differs between two runs of the same workflow for reasons of time or crashes
VOLATILE_RUN = ("trace_id", "started_ms", "updated_ms", "finished_ms", "resumes", "totals")
VOLATILE_STEP = ("started_ms", "finished_ms", "latency_ms", "restarts", "interrupted")


def env(tmp: Path, **extra: str) -> dict[str, str]:
    """An environment for `baton`: the test workflows and the repository's compiled
    examples importable, a ledger file."""
    values = dict(os.environ)
    values["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT), values.get("PYTHONPATH", "")])
    values["BATON_LEDGER"] = str(tmp / "ledger.jsonl")
    values.pop("BATON_TEST_KILL_AFTER_EVENT", None)
    values.update(extra)
    return values


def baton(
    tmp: Path, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `baton ARGS --db tmp/baton.db` in `tmp`; never raises on a non-zero exit.

    A real process forked from a warm interpreter (rc_fork: no interpreter start-up and
    imports per call, ~0.3 s each, which hundreds of calls per crash test added up to);
    BATON_TEST_EXEC=1 runs the installed executable instead (`baton_exec`)."""
    if os.environ.get("BATON_TEST_EXEC") == "1":
        return baton_exec(tmp, *args, extra_env=extra_env, timeout=timeout)
    from rc_fork import run_forked

    argv = [*args, "--db", str(tmp / "baton.db")]
    return run_forked(argv, tmp, env(tmp, **(extra_env or {})), timeout)


def baton_exec(
    tmp: Path, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`baton ARGS --db tmp/baton.db` as the installed executable, a fresh interpreter."""
    return subprocess.run(
        [BATON, *args, "--db", str(tmp / "baton.db")],
        cwd=tmp,
        env=env(tmp, **(extra_env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ledger(tmp: Path) -> list[dict[str, Any]]:
    path = tmp / "ledger.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, params).fetchall()


def shown(tmp: Path, run_id: str) -> dict[str, Any]:
    """`baton show RUN --json`, parsed."""
    result = baton(tmp, "show", run_id, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def normalized(state: dict[str, Any]) -> dict[str, Any]:
    """A state without what time and crashes change (timestamps, restarts, owners)."""
    data = {k: v for k, v in state.items() if k not in VOLATILE_RUN}
    data["spec_sha256"] = None
    steps = {}
    for step, record in state["steps"].items():
        steps[step] = {k: v for k, v in record.items() if k not in VOLATILE_STEP}
        if steps[step].get("approval"):
            approval = dict(steps[step]["approval"])
            approval.pop("requested_ms")
            approval.pop("decided_ms")
            steps[step]["approval"] = approval
        if steps[step].get("retry_due_ms") is not None:
            steps[step]["retry_due_ms"] = "set"
    data["steps"] = steps
    return data
