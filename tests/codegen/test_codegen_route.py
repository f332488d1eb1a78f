"""A step's `route:` compiles to `rt.Step(..., route=(rt.RouteCase(...),))`: deterministic,
ruff- and mypy-clean, and the compiled step has the `no_route` trigger."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from click.testing import CliRunner

import baton.runtime as rt
from baton.commands.compile import compile_command
from codegen.codegen_support import ROOT

BIN = Path(sys.executable).parent
SPECS = ROOT / "tests" / "golden" / "lint" / "ok" / "routes"


def _compile(out: Path) -> dict[str, bytes]:
    result = CliRunner().invoke(compile_command, [str(SPECS), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return {p.name: p.read_bytes() for p in sorted(out.rglob("*.py"))}


def test_routes_compile_deterministic_and_clean(tmp_path: Path) -> None:
    first = _compile(tmp_path / "a")
    assert first == _compile(tmp_path / "b")
    source = next(text.decode() for text in first.values() if b"rt.RouteCase(" in text)
    assert "route=(" in source
    # ruff- and mypy-clean: test_codegen_features_clean.py, one mypy run for every feature


def test_the_compiled_step_carries_its_route(tmp_path: Path) -> None:
    _compile(tmp_path / "out")
    path = next(p for p in (tmp_path / "out").rglob("*.py") if "rt.RouteCase(" in p.read_text())
    spec = importlib.util.spec_from_file_location(f"route_case_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        workflow = next(v for v in vars(module).values() if isinstance(v, rt.Workflow))
    finally:
        del sys.modules[spec.name]
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
