"""A step's `map:` compiles to `rt.Step(..., map=rt.Map(...))`, deterministic and ruff-
and mypy-clean; the map step's typed accessor returns a list of its handoff's model
(`Model | None` slots when `tolerate` lets items fail)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

import baton.runtime as rt
from baton.commands.compile import compile_command
from codegen.codegen_support import ROOT

BIN = Path(sys.executable).parent
SPECS = ROOT / "tests" / "golden" / "lint" / "ok" / "maps"


def _compile(out: Path) -> dict[str, bytes]:
    result = CliRunner().invoke(compile_command, [str(SPECS), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return {p.name: p.read_bytes() for p in sorted(out.rglob("*.py"))}


def _load(out: Path) -> ModuleType:
    path = next(p for p in out.rglob("*.py") if "rt.Map(" in p.read_text())
    spec = importlib.util.spec_from_file_location(f"map_case_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_maps_compile_deterministic_and_clean(tmp_path: Path) -> None:
    first = _compile(tmp_path / "a")
    assert first == _compile(tmp_path / "b")
    source = next(text.decode() for text in first.values() if "rt.Map(" in text.decode())
    assert '-> "list[BriefV2 | None]":' in source
    assert '-> "list[BriefV2]":' in source
    # ruff- and mypy-clean: test_codegen_features_clean.py, one mypy run for every feature


def test_the_compiled_step_carries_its_map_and_a_list_accessor(tmp_path: Path) -> None:
    _compile(tmp_path / "out")
    module = _load(tmp_path / "out")
    try:
        workflow = next(v for v in vars(module).values() if isinstance(v, rt.Workflow))
        step = workflow.step("research_each")
        assert step.map == rt.Map(
            over=rt.Template(
                "steps.plan.output.subtopics", is_expression=True, spec=step.map.over.spec
            ),
            var="subtopic",
            max_concurrency=2,
            tolerate=1,
        )
        assert step.map.over.spec.endswith(":43")
        extra = workflow.step("each_extra")
        assert extra.map is not None and extra.map.max_concurrency == 4
        assert extra.map.tolerate == 0
        # the accessor: each slot typed, a null slot (a dropped item) kept as None
        typed = module.research_each_output([{"summary": "a"}, None])
        assert typed[0].summary == "a" and typed[1] is None
        assert [t.summary for t in module.each_extra_output([{"summary": "b"}])] == ["b"]
        with pytest.raises(TypeError):
            module.research_each_output({"summary": "a"})
    finally:
        del sys.modules[module.__name__]
