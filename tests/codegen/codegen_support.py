"""Helpers shared by the codegen tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

import os
from pathlib import Path

from baton.compiler.codegen import CompileResult, compile_specs

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "specs"


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
