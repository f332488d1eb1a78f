"""A step's `map:` compiles to `rt.Step(..., map=rt.Map(...))`, deterministic and ruff-
and mypy-clean; the map step's typed accessor returns a list of its handoff's model
(`Model | None` slots when `tolerate` lets items fail)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

import baton.runtime as rt
from codegen.codegen_support import compile_ok_case, load_compiled

BIN = Path(sys.executable).parent


def _load(out: Path) -> ModuleType:
    path = next(p for p in out.rglob("*.py") if "rt.Map(" in p.read_text())
    return load_compiled(path, f"map_case_{path.stem}", keep=True)


def test_maps_compile_deterministic_and_clean(tmp_path: Path) -> None:
    first = compile_ok_case("maps", tmp_path / "a")
    assert first == compile_ok_case("maps", tmp_path / "b")
    source = next(text.decode() for text in first.values() if "rt.Map(" in text.decode())
    assert '-> "list[BriefV2 | None]":' in source
    assert '-> "list[BriefV2]":' in source
    # ruff- and mypy-clean: test_codegen_features_clean.py, one mypy run for every feature


def test_the_compiled_step_carries_its_map_and_a_list_accessor(tmp_path: Path) -> None:
    compile_ok_case("maps", tmp_path / "out")
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
