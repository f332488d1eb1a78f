"""A step's `fallback:` entries compile to `rt.Step(..., fallbacks=(rt.Fallback(...),))`:
deterministic, ruff- and mypy-clean, and the compiled step has the `fall_back` trigger."""

from __future__ import annotations

import sys
from pathlib import Path

import baton.runtime as rt
from codegen.codegen_support import compile_ok_case, load_compiled

BIN = Path(sys.executable).parent


def test_fallbacks_compile_deterministic_and_clean(tmp_path: Path) -> None:
    first = compile_ok_case("fallbacks", tmp_path / "a")
    assert first == compile_ok_case("fallbacks", tmp_path / "b")
    source = next(text.decode() for name, text in first.items() if "rt.Fallback(" in text.decode())
    assert "fallbacks=(" in source
    assert "agent='webster_backup'" in source or 'agent="webster_backup"' in source
    # ruff- and mypy-clean: test_codegen_features_clean.py, one mypy run for every feature


def test_the_compiled_step_carries_its_fallbacks(tmp_path: Path) -> None:
    compile_ok_case("fallbacks", tmp_path / "out")
    path = next(p for p in (tmp_path / "out").rglob("*.py") if "rt.Fallback(" in p.read_text())
    module = load_compiled(path, f"fallback_case_{path.stem}")
    workflow = next(v for v in vars(module).values() if isinstance(v, rt.Workflow))
    step = workflow.step("research")
    assert step.fallbacks == (
        rt.Fallback(
            on=(rt.FailureClass.TIMEOUT, rt.FailureClass.RATE_LIMITED, rt.FailureClass.AGENT_ERROR),
            agent="webster_backup",
        ),
        rt.Fallback(on=(rt.FailureClass.MALFORMED_OUTPUT,), agent="mario"),
    )
    assert "fall_back" in step.transitions
