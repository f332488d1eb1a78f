"""Lazy models: importing a generated module imports no pydantic and defines no model.

The models are written twice, the same text: under `if TYPE_CHECKING:` (what mypy reads;
tests/codegen/test_codegen_format.py type-checks agent code against it) and in
`_models()`, which `rt.LazyModels` runs on first use. These tests hold the two copies
equal and check every way of reaching a model at run time.
"""

from __future__ import annotations

import ast
import pickle
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest

import baton.runtime as rt
from baton.compiler.codegen import CompileResult, compile_specs, load_module_from_source
from codegen.codegen_shapes import write_spec_set
from codegen.codegen_support import FIXTURES, ROOT, compile_in_root


def _module(result: CompileResult, file: str) -> types.ModuleType:
    return load_module_from_source(result.modules[file], file.removesuffix(".py"))


def _checking_models(tree: ast.Module) -> list[ast.stmt]:
    """The body of the first `if TYPE_CHECKING:` after the imports (the models)."""
    blocks = [
        node
        for node in tree.body
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
    ]
    return blocks[1].body  # blocks[0] is the import of pydantic's names


def _factory(tree: ast.Module) -> ast.FunctionDef:
    [factory] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_models"]
    return factory


def _defined_name(node: ast.stmt) -> str:
    """A class's name, or an alias's (`Name: TypeAlias = ...`)."""
    if isinstance(node, ast.ClassDef):
        return node.name
    assert isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    return node.target.id


def _sources(examples: CompileResult) -> list[str]:
    rich = compile_in_root(str(FIXTURES.relative_to(ROOT)))
    return [
        source
        for result in (examples, rich)
        for file, source in result.modules.items()
        if file != "__init__.py"
    ]


def test_the_two_copies_of_the_models_are_the_same_code(examples: CompileResult) -> None:
    for source in _sources(examples):
        tree = ast.parse(source)
        declared = _checking_models(tree)
        factory = _factory(tree).body
        # the factory: docstring, `from pydantic import ...`, the models, `return {...}`
        assert isinstance(factory[1], ast.ImportFrom) and factory[1].module == "pydantic"
        defined = factory[2:-1]
        assert [ast.dump(n) for n in defined] == [ast.dump(n) for n in declared]
        names = [_defined_name(n) for n in declared]
        returned = factory[-1]
        assert isinstance(returned, ast.Return) and isinstance(returned.value, ast.Dict)
        keys = [ast.literal_eval(k) for k in returned.value.keys if k is not None]
        assert keys == [*names, "INPUT_MODEL", "OUTPUT_MODELS"]


def test_importing_a_generated_module_imports_no_pydantic() -> None:
    probe = (
        "import sys\n"
        "import baton.runtime\n"
        "import generated.research_report as m\n"
        "assert 'pydantic' not in sys.modules, 'pydantic imported by the import'\n"
        "assert 'BriefV2' not in vars(m), 'a model defined by the import'\n"
        "m.WORKFLOW.step('research')\n"
        "assert 'pydantic' not in sys.modules, 'pydantic imported by WORKFLOW'\n"
        "assert m.BriefV2.__name__ == 'BriefV2' and 'pydantic' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_every_way_to_a_model_gives_the_same_class(examples: CompileResult) -> None:
    module = _module(examples, "research_report.py")
    assert "BriefV2" not in vars(module)
    assert getattr(module, "__wrapped__", None) is None  # a probe defines nothing
    assert "BriefV2" not in vars(module)
    with pytest.raises(AttributeError, match="no attribute 'BriefV3'"):
        module.BriefV3  # noqa: B018
    workflow = module.WORKFLOW
    brief = workflow.handoff("brief@2").model
    assert brief is module.BriefV2 is module.OUTPUT_MODELS[module.Step.RESEARCH]
    assert workflow.input_model is module.INPUT_MODEL is module.ResearchReportInput
    assert vars(module)["BriefV2"] is brief  # stored: later reads are plain global reads
    assert brief.__qualname__ == "BriefV2"
    parsed = module.research_output({"summary": "s", "sources": ["a"]})
    assert isinstance(parsed, brief)
    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == {
        "summary": "s",
        "sources": ["a"],
    }


def test_an_accessor_works_before_any_model_was_read(examples: CompileResult) -> None:
    module = _module(examples, "research_report.py")
    assert "ResearchReportInput" not in vars(module)
    parsed = module.parse_input({"topic": "t", "client": "c"})
    assert type(parsed) is module.ResearchReportInput
    assert parsed.topic == "t"


def test_instances_pickle_as_those_of_top_level_classes() -> None:
    import generated.research_report as generated_module

    brief = generated_module.BriefV2(summary="s", confidence=0.5)
    assert pickle.loads(pickle.dumps(brief)) == brief


def test_concurrent_first_uses_define_the_models_once(examples: CompileResult) -> None:
    module = _module(examples, "research_report.py")
    barrier = threading.Barrier(8)
    seen: list[type] = []

    def read() -> None:
        barrier.wait()
        seen.append(module.BriefV2)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and len(set(seen)) == 1


def test_root_models_and_nested_models_are_lazy_too() -> None:
    rich = compile_in_root(str(FIXTURES.relative_to(ROOT)))
    module = _module(rich, "rich_shapes.py")
    lazy = module._MODELS
    assert isinstance(lazy, rt.LazyModels)
    assert not any(name in vars(module) for name in lazy.names)
    for name in sorted(lazy.names):
        value = getattr(module, name)
        assert value is not None, name
    for handoff in module.WORKFLOW.handoffs:
        assert handoff.model is getattr(module, handoff.model.__name__)


def test_a_hand_built_handoff_keeps_its_model_class() -> None:
    class Model:
        pass

    handoff = rt.Handoff("note", 1, {"type": "object"}, Model)
    assert handoff.model is Model
    assert rt.Handoff("note", 1, {"type": "object"}).model is None


def test_random_modules_define_their_models_on_first_use(tmp_path: Path) -> None:
    """Aliases, nested and root models, odd field names: the factory of every module
    runs, and its copy of the models is the declared one."""
    write_spec_set(tmp_path / "specs", seed=20240601, workflows=12, steps=10)
    result = compile_specs([str(tmp_path / "specs")])
    assert result.ok, result.diagnostics
    aliases = 0
    for file, source in sorted(result.modules.items()):
        if file == "__init__.py":
            continue
        tree = ast.parse(source)
        declared = _checking_models(tree)
        assert [ast.dump(n) for n in _factory(tree).body[2:-1]] == [ast.dump(n) for n in declared]
        aliases += sum(isinstance(n, ast.AnnAssign) for n in declared)
        module = _module(result, file)
        defined = module._MODELS.define()
        assert set(defined) == module._MODELS.names
        assert [_defined_name(n) for n in declared] == list(defined)[:-2]
        for step in module.WORKFLOW.steps:
            if step.output is not None:
                assert step.output.model is defined[step.output.model.__name__]
    assert aliases, "the random spec set has long annotations (TypeAlias): it should"
