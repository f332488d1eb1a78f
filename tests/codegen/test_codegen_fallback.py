"""A step's `fallback:` entries compile to `rt.Step(..., fallbacks=(rt.Fallback(...),))`:
deterministic, ruff- and mypy-clean, and the compiled step has the `fall_back` trigger."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from click.testing import CliRunner

import baton.runtime as rt
from baton.commands.compile import compile_command
from codegen.codegen_support import ROOT

BIN = Path(sys.executable).parent
SPECS = ROOT / "tests" / "golden" / "lint" / "ok" / "fallbacks"


def _compile(out: Path) -> dict[str, bytes]:
    result = CliRunner().invoke(compile_command, [str(SPECS), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return {p.name: p.read_bytes() for p in sorted(out.rglob("*.py"))}


def test_fallbacks_compile_deterministic_and_clean(tmp_path: Path) -> None:
    first = _compile(tmp_path / "a")
    assert first == _compile(tmp_path / "b")
    source = next(text.decode() for name, text in first.items() if "rt.Fallback(" in text.decode())
    assert "fallbacks=(" in source
    assert "agent='webster_backup'" in source or 'agent="webster_backup"' in source
    # ruff- and mypy-clean: test_codegen_features_clean.py, one mypy run for every feature


def test_the_compiled_step_carries_its_fallbacks(tmp_path: Path) -> None:
    _compile(tmp_path / "out")
    path = next(p for p in (tmp_path / "out").rglob("*.py") if "rt.Fallback(" in p.read_text())
    spec = importlib.util.spec_from_file_location(f"fallback_case_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        workflow = next(v for v in vars(module).values() if isinstance(v, rt.Workflow))
    finally:
        del sys.modules[spec.name]
    step = workflow.step("research")
    assert step.fallbacks == (
        rt.Fallback(
            on=(rt.FailureClass.TIMEOUT, rt.FailureClass.RATE_LIMITED, rt.FailureClass.AGENT_ERROR),
            agent="webster_backup",
        ),
        rt.Fallback(on=(rt.FailureClass.MALFORMED_OUTPUT,), agent="mario"),
    )
    assert "fall_back" in step.transitions
