"""An approval's `timeout`, `on_timeout` and `escalate_to` compile to
`rt.Approval(timeout_ms=..., on_timeout=..., escalate_to=...)` (only what differs from
the defaults): deterministic, ruff- and mypy-clean; a run's `run_started` pins them in
its gates with the escalation role's principals."""

from __future__ import annotations

import sys
from pathlib import Path

import baton.runtime as rt
from baton.runtime.core.plan import run_started
from codegen.codegen_support import compile_ok_case, load_compiled

BIN = Path(sys.executable).parent


def test_approval_timeouts_compile_deterministic_and_clean(tmp_path: Path) -> None:
    first = compile_ok_case("approval_timeouts", tmp_path / "a")
    assert first == compile_ok_case("approval_timeouts", tmp_path / "b")
    source = next(text.decode() for text in first.values() if b"timeout_ms=14400000" in text)
    assert 'escalate_to="ceo"' in source and 'on_timeout="escalate"' in source
    # ruff- and mypy-clean: test_codegen_features_clean.py, one mypy run for every feature


def test_the_compiled_gates_carry_their_timeouts(tmp_path: Path) -> None:
    compile_ok_case("approval_timeouts", tmp_path / "out")
    path = next(p for p in (tmp_path / "out").rglob("*.py") if "timeout_ms=" in p.read_text())
    module = load_compiled(path, f"timeouts_case_{path.stem}")
    workflow = next(v for v in vars(module).values() if isinstance(v, rt.Workflow))
    assert workflow.step("draft").approval == rt.Approval(
        "manager", rt.ApprovalStage.AFTER, timeout_ms=1_800_000
    )
    assert workflow.step("send").approval == rt.Approval(
        "manager", timeout_ms=14_400_000, on_timeout="escalate", escalate_to="ceo"
    )
    assert workflow.step("notify").approval == rt.Approval("ceo", timeout_ms=5_400_000)
    gates = run_started(workflow, {}, "pin", "wf.yaml").gates
    assert gates["send"] == {
        "role": "manager",
        "stage": "before",
        "principals": ["alice", "bob"],
        "timeout_ms": 14_400_000,
        "on_timeout": "escalate",
        "escalate_to": "ceo",
        "escalate_principals": ["carol"],
    }
