"""A step's `review:` compiles to `rt.Step(..., review=rt.Review(...))`: deterministic,
ruff- and mypy-clean; the compiled step has the review triggers (and `request_review`
when it escalates), and the verdict handoff is the module's handoff constant."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from click.testing import CliRunner

import baton.runtime as rt
from baton.commands.compile import compile_command
from codegen.codegen_support import ROOT

BIN = Path(sys.executable).parent
SPECS = ROOT / "tests" / "golden" / "lint" / "ok" / "reviews"


def _compile(out: Path) -> dict[str, bytes]:
    result = CliRunner().invoke(compile_command, [str(SPECS), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return {p.name: p.read_bytes() for p in sorted(out.rglob("*.py"))}


def test_reviews_compile_deterministic_and_clean(tmp_path: Path) -> None:
    first = _compile(tmp_path / "a")
    assert first == _compile(tmp_path / "b")
    source = next(text.decode() for text in first.values() if "rt.Review(" in text.decode())
    assert "output=VERDICT_V1" in source
    # ruff- and mypy-clean: test_codegen_features_clean.py, one mypy run for every feature


def test_the_compiled_step_carries_its_review(tmp_path: Path) -> None:
    _compile(tmp_path / "out")
    path = next(p for p in (tmp_path / "out").rglob("*.py") if "rt.Review(" in p.read_text())
    spec = importlib.util.spec_from_file_location(f"review_case_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        workflow = next(v for v in vars(module).values() if isinstance(v, rt.Workflow))
    finally:
        del sys.modules[spec.name]
    research = workflow.step("research")
    review = research.review
    assert review is not None
    assert review.by == "auditor"
    assert review.output.ref == "verdict@1"
    assert review.pass_when.source == "review.verdict == 'pass'" and review.pass_when.is_expression
    assert review.feedback is not None and "review.notes" in review.feedback.source
    assert review.max_rounds == 3
    assert review.on_exhausted is rt.OnExhausted.ESCALATE and review.escalate_to == "manager"
    assert {"start_review", "end_review", "revise", "request_review"} <= set(research.transitions)
    polish = workflow.step("polish")
    assert polish.review is not None and polish.review.max_rounds == 6
    assert polish.review.on_exhausted is rt.OnExhausted.ACCEPT
    assert "request_review" not in polish.transitions
    assert "revise" in polish.transitions
