"""Shared fixtures for the codegen tests: the repository root, compiled fixtures."""

from __future__ import annotations

import types
from collections.abc import Iterator

import pytest

from baton.compiler.codegen import CompileResult, load_module_from_source
from codegen.codegen_support import FIXTURES, ROOT, compile_in_root


@pytest.fixture(autouse=True)
def in_repository_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Spec paths (and so generated headers) are relative to the repository root."""
    monkeypatch.chdir(ROOT)
    yield


@pytest.fixture(scope="session")
def examples() -> CompileResult:
    """The example specs compiled in memory."""
    result = compile_in_root("specs")
    assert result.ok, result.diagnostics
    return result


@pytest.fixture(scope="session")
def rich() -> types.ModuleType:
    """tests/codegen/specs (every mapped JSON Schema shape) compiled and loaded."""
    result = compile_in_root(str(FIXTURES.relative_to(ROOT)))
    assert result.ok, result.diagnostics
    return load_module_from_source(result.modules["rich_shapes.py"], "rich_shapes")


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """`--cache-dir` for the mypy runs of this test process: new with each session, so
    nothing stale, and shared by its runs, so only the first checks pydantic, the
    runtime and the stdlib stubs (each run with --no-incremental took ~20 s)."""
    return str(tmp_path_factory.mktemp("mypy-cache"))
