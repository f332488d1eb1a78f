"""A step's `route:` compiles to `rt.Step(..., route=(rt.RouteCase(...),))`: deterministic,
ruff- and mypy-clean, and the compiled step has the `no_route` trigger."""

from __future__ import annotations

import sys
from pathlib import Path

import baton.runtime as rt
from codegen.codegen_support import compile_ok_case, load_compiled

BIN = Path(sys.executable).parent


def test_routes_compile_deterministic_and_clean(tmp_path: Path) -> None:
    first = compile_ok_case("routes", tmp_path / "a")
    assert first == compile_ok_case("routes", tmp_path / "b")
    source = next(text.decode() for text in first.values() if b"rt.RouteCase(" in text)
    assert "route=(" in source
    # ruff- and mypy-clean: test_codegen_features_clean.py, one mypy run for every feature


def test_the_compiled_step_carries_its_route(tmp_path: Path) -> None:
    compile_ok_case("routes", tmp_path / "out")
    path = next(p for p in (tmp_path / "out").rglob("*.py") if "rt.RouteCase(" in p.read_text())
    module = load_compiled(path, f"route_case_{path.stem}")
    workflow = next(v for v in vars(module).values() if isinstance(v, rt.Workflow))
    step = workflow.step("handle")
    assert step.agent is None and step.workflow is None
    assert [(c.when.source if c.when else None, c.agent, c.workflow) for c in step.route] == [
        ("steps.classify.output.kind == 'bug'", "fixer", None),
        ("steps.classify.output.kind == 'feature'", None, "feature_flow"),
        (None, "helper", None),
    ]
    assert all(c.when is None or c.when.is_expression for c in step.route)
    assert "no_route" in step.transitions
    assert "no_route" not in workflow.step("classify").transitions
    # the chain the runtime extends with the chosen agent: the owner only
    assert step.delegation_chain == ("mario",)
    exhaustive = workflow.step("exhaustive")
    assert exhaustive.fallbacks == (rt.Fallback(on=(rt.FailureClass.TIMEOUT,), agent="writer"),)
