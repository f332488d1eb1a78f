"""`baton` as a real subprocess for the llm end-to-end tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fake_providers import API_KEY, KEY_VARIABLE, FakeProvider

HERE = Path(__file__).resolve().parent
RUNTIME_CORE = str(HERE.parent / "runtime_core")
if RUNTIME_CORE not in sys.path:
    sys.path.append(RUNTIME_CORE)  # rc_fork, after this directory's own modules

from rc_fork import run_forked  # noqa: E402

ROOT = HERE.parent.parent
BATON = str(Path(sys.executable).parent / "baton")


def env(fake: FakeProvider | None, provider: str = "openai", **extra: str) -> dict[str, str]:
    values = dict(os.environ)
    values["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT), values.get("PYTHONPATH", "")])
    values.pop("BATON_TEST_KILL_AFTER_EVENT", None)
    values["BATON_TEST_LLM_PROVIDER"] = provider
    if fake is not None:
        base = fake.openai_base_url if provider == "openai" else fake.anthropic_base_url
        values["BATON_TEST_LLM_URL"] = base
    values[KEY_VARIABLE] = API_KEY
    values.update(extra)
    return values


def baton(
    tmp: Path,
    fake: FakeProvider | None,
    *args: str,
    provider: str = "openai",
    extra_env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """`baton ARGS --db tmp/baton.db` in `tmp`; never raises on a non-zero exit. A real
    process forked from a warm interpreter (tests/runtime_core/rc_fork.py), or the
    installed executable with BATON_TEST_EXEC=1."""
    values = env(fake, provider, **(extra_env or {}))
    argv = [*args, "--db", str(tmp / "baton.db")]
    if os.environ.get("BATON_TEST_EXEC") != "1":
        return run_forked(argv, tmp, values, timeout)
    return subprocess.run(
        [BATON, *argv], cwd=tmp, env=values, capture_output=True, text=True, timeout=timeout
    )


def shown(tmp: Path, run_id: str) -> dict[str, Any]:
    result = baton(tmp, None, "show", run_id, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def events(tmp: Path, run_id: str) -> list[dict[str, Any]]:
    result = baton(tmp, None, "events", run_id, "--json")
    assert result.returncode == 0, result.stderr
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data
