"""B208 and B209 decide without running anything, and agree with the runtime.

The golden cases (tests/golden/lint/err/b208_*, b209_*) hold the exact findings; here:
the compiler's copy of the builtin names is the runtime's, a python agent's module is
looked for but never imported, and an installed module is never flagged.
"""

from __future__ import annotations

import sys
from pathlib import Path

from baton.compiler.pipeline import lint
from baton.compiler.rules.agents import BUILTIN_AGENTS, BUILTIN_FAMILIES
from baton.runtime.agents import builtin

ROSTER = """\
baton: 1
kind: roster
agents:
  lead:
    run: {builtin: echo}
    delegates_to: [worker]
  worker:
    run: {python: "%s"}
"""
WORKFLOW = """\
baton: 1
name: job
roster: roster.yaml
owner: lead
steps:
  work:
    agent: worker
"""


def spec_set(root: Path, target: str) -> Path:
    root.mkdir(exist_ok=True)
    (root / "roster.yaml").write_text(ROSTER % target)
    (root / "wf.yaml").write_text(WORKFLOW)
    return root


def rules(root: Path) -> list[str]:
    return [f"{d.rule}:{d.span.line}" for d in lint([str(root)]).diagnostics]


def test_the_compiler_knows_the_runtime_builtins() -> None:
    assert BUILTIN_AGENTS == builtin.NAMES
    assert BUILTIN_FAMILIES == builtin.FAMILIES


def test_a_module_is_found_without_being_imported(tmp_path: Path) -> None:
    root = spec_set(tmp_path / "specs", "tools.loud:run")
    package = root / "tools"
    package.mkdir()
    touched = tmp_path / "imported"
    code = f"open({str(touched)!r}, 'w').close()\nprint('imported')\n"
    (package / "__init__.py").write_text(code)
    (package / "loud.py").write_text(code + "def run(req):\n    return {}\n")
    assert rules(root) == []
    assert not touched.exists()
    assert "tools" not in sys.modules and "tools.loud" not in sys.modules


def test_a_missing_submodule_of_a_root_package_is_flagged(tmp_path: Path) -> None:
    root = spec_set(tmp_path / "specs", "tools.quiet:run")
    (root / "tools").mkdir()
    (root / "tools" / "__init__.py").write_text("")
    assert rules(root) == ["B209:8"]


def test_installed_and_standard_modules_are_not_flagged(tmp_path: Path) -> None:
    for target in ("pydantic:BaseModel", "json:dumps", "sys:exit", "baton.runtime:Request"):
        assert rules(spec_set(tmp_path / "specs", target)) == [], target


def test_the_root_shadows_an_installed_package(tmp_path: Path) -> None:
    """With the root first on sys.path, a root `json/` package hides the standard one:
    `json.nope` is looked for under the root, and missing."""
    root = spec_set(tmp_path / "specs", "json.nope:run")
    (root / "json").mkdir()
    (root / "json" / "__init__.py").write_text("")
    assert rules(root) == ["B209:8"]
