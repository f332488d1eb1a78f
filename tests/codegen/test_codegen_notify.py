"""A roster's `notify:` and `console_url` compile to `rt.Workflow(notify=(rt.NotifySink(
...),), console_url=...)`: deterministic, ruff- and mypy-clean, variable names only."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from click.testing import CliRunner

import baton.runtime as rt
from baton.commands.compile import compile_command
from codegen.codegen_support import ROOT

BIN = Path(sys.executable).parent
SPECS = ROOT / "tests" / "golden" / "lint" / "ok" / "notify"


def _compile(out: Path) -> dict[str, bytes]:
    result = CliRunner().invoke(compile_command, [str(SPECS), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return {p.name: p.read_bytes() for p in sorted(out.rglob("*.py"))}


def test_notify_compiles_deterministic_and_clean(tmp_path: Path) -> None:
    first = _compile(tmp_path / "a")
    assert first == _compile(tmp_path / "b")
    source = first["notified.py"].decode()
    assert "rt.NotifySink(" in source and 'console_url="https://baton.example.com:8700/"' in source
    # ruff- and mypy-clean: test_codegen_features_clean.py, one mypy run for every feature


def test_the_compiled_workflow_carries_its_sinks(tmp_path: Path) -> None:
    _compile(tmp_path / "out")
    path = tmp_path / "out" / "notified.py"
    spec = importlib.util.spec_from_file_location("notify_case_notified", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        workflow = module.WORKFLOW
    finally:
        del sys.modules[spec.name]
    assert isinstance(workflow, rt.Workflow)
    assert workflow.console_url == "https://baton.example.com:8700/"
    assert workflow.notify == (
        rt.NotifySink(
            url_env="TEAM_WEBHOOK_URL",
            events=("approval_requested", "run_failed", "run_succeeded", "review_exhausted"),
            format=rt.NotifyFormat.SLACK,
            secret_env="BATON_WEBHOOK_SECRET",
        ),
        rt.NotifySink(
            url_env="OPS_HOOK",
            events=("run_failed", "run_cancelled", "budget_exceeded"),
            timeout_ms=2000,
            max_attempts=3,
        ),
        rt.NotifySink(
            url_env="DISCORD_HOOK",
            events=("approval_granted", "approval_rejected"),
            format=rt.NotifyFormat.DISCORD,
        ),
    )


def test_a_workflow_without_notify_compiles_as_before(tmp_path: Path) -> None:
    """No `notify=` keyword unless the roster has webhooks: generated/ does not change."""
    result = CliRunner().invoke(
        compile_command,
        [str(ROOT / "tests" / "golden" / "lint" / "ok" / "fallbacks"), "-o", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    for path in tmp_path.rglob("*.py"):
        assert "notify=" not in path.read_text() and "console_url=" not in path.read_text()
