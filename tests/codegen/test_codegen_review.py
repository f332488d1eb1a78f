"""A step's `review:` compiles to `rt.Step(..., review=rt.Review(...))`: deterministic,
ruff- and mypy-clean; the compiled step has the review triggers (and `request_review`
when it escalates), and the verdict handoff is the module's handoff constant."""

from __future__ import annotations

import sys
from pathlib import Path

import baton.runtime as rt
from codegen.codegen_support import compile_ok_case, load_compiled

BIN = Path(sys.executable).parent


def test_reviews_compile_deterministic_and_clean(tmp_path: Path) -> None:
    first = compile_ok_case("reviews", tmp_path / "a")
    assert first == compile_ok_case("reviews", tmp_path / "b")
    source = next(text.decode() for text in first.values() if "rt.Review(" in text.decode())
    assert "output=VERDICT_V1" in source
    # ruff- and mypy-clean: test_codegen_features_clean.py, one mypy run for every feature


def test_the_compiled_step_carries_its_review(tmp_path: Path) -> None:
    compile_ok_case("reviews", tmp_path / "out")
    path = next(p for p in (tmp_path / "out").rglob("*.py") if "rt.Review(" in p.read_text())
    module = load_compiled(path, f"review_case_{path.stem}")
    workflow = next(v for v in vars(module).values() if isinstance(v, rt.Workflow))
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
