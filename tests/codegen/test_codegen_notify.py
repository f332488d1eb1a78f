"""A roster's `notify:` and `console_url` compile to `rt.Workflow(notify=(rt.NotifySink(
...),), console_url=...)`: deterministic, ruff- and mypy-clean, variable names only."""

from __future__ import annotations

import sys
from pathlib import Path

import baton.runtime as rt
from codegen.codegen_support import compile_ok_case, load_compiled

BIN = Path(sys.executable).parent


def test_notify_compiles_deterministic_and_clean(tmp_path: Path) -> None:
    first = compile_ok_case("notify", tmp_path / "a")
    assert first == compile_ok_case("notify", tmp_path / "b")
    source = first["notified.py"].decode()
    assert "rt.NotifySink(" in source and 'console_url="https://baton.example.com:8700/"' in source
    # ruff- and mypy-clean: test_codegen_features_clean.py, one mypy run for every feature


def test_the_compiled_workflow_carries_its_sinks(tmp_path: Path) -> None:
    compile_ok_case("notify", tmp_path / "out")
    path = tmp_path / "out" / "notified.py"
    module = load_compiled(path, "notify_case_notified")
    workflow = module.WORKFLOW
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
    compile_ok_case("fallbacks", tmp_path)
    for path in tmp_path.rglob("*.py"):
        assert "notify=" not in path.read_text() and "console_url=" not in path.read_text()
