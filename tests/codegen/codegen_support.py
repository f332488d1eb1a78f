"""Helpers shared by the codegen tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from baton.compiler.codegen import CompileResult, compile_specs

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "specs"
OK_CASES = ROOT / "tests" / "golden" / "lint" / "ok"  # a spec set per feature


def compile_ok_case(feature: str, out: Path) -> dict[str, bytes]:
    """`baton compile` of the golden ok case of `feature` into `out`: name -> content."""
    from click.testing import CliRunner

    from baton.commands.compile import compile_command

    result = CliRunner().invoke(compile_command, [str(OK_CASES / feature), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return {p.name: p.read_bytes() for p in sorted(out.rglob("*.py"))}


def load_compiled(path: Path, name: str, keep: bool = False) -> ModuleType:
    """The compiled module at `path`, executed as `name`; out of sys.modules again
    afterwards unless `keep` (a module whose models are resolved lazily needs it)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        if not keep:
            del sys.modules[spec.name]
    return module


def compile_in_root(*paths: str) -> CompileResult:
    """compile_specs run from the repository root, whatever the current directory."""
    previous = Path.cwd()
    os.chdir(ROOT)
    try:
        return compile_specs(list(paths))
    finally:
        os.chdir(previous)


def patch_hypothesis_jsonschema() -> None:
    """Let hypothesis-jsonschema 0.23.1 draw objects with the installed hypothesis.

    It drives hypothesis' private `many` helper through `while elements.more():`, an API
    hypothesis has since replaced with `with many(...) as elements: for _ in elements:`
    (AttributeError: 'many' object has no attribute 'more'). This adapter offers the old
    method on top of the new protocol, for hypothesis-jsonschema's module only.
    """
    import types as _types

    import hypothesis_jsonschema._from_schema as from_schema_module
    from hypothesis.internal.conjecture import utils

    if hasattr(utils.many, "more"):
        return  # a hypothesis that still has the old API

    class LegacyMany:
        def __init__(self, data: object, **sizes: float) -> None:
            self.many = utils.many(data, **sizes)  # type: ignore[arg-type]
            self.many.__enter__()
            self.elements = iter(self.many)

        def more(self) -> bool:
            try:
                next(self.elements)
            except StopIteration:
                self.many.__exit__(None)
                return False
            return True

        def reject(self, why: str | None = None) -> None:
            self.many.reject(why)

    from_schema_module.cu = _types.SimpleNamespace(many=LegacyMany)  # type: ignore[attr-defined]
