"""The compiler's stage table: each entry point runs a prefix of `STAGES`, every finding
comes from a rule of the registry (B001/B003 from the loader), and what the analysis
stages compute is computed once and shared by the rules and codegen."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from baton.compiler import codegen, pipeline
from baton.compiler.chains import delegation_chains
from baton.compiler.codegen import compile_specs
from baton.compiler.graphs import build_graphs
from baton.compiler.references import template_reads
from baton.compiler.rules.registry import RULES

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_ERR = ROOT / "tests" / "golden" / "lint" / "err"


def test_the_stages_in_order() -> None:
    names = [stage.__name__ for stage in pipeline.STAGES]
    assert names == [
        *("discover", "load", "structure", "build", "resolve"),
        *("build_graphs", "delegation_chains", "references"),
        *("check", "select", "emit"),
    ]
    assert all(stage.__doc__ for stage in pipeline.STAGES)


def test_each_entry_point_runs_a_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    front = pipeline.load_spec_set(["specs"])
    assert front.spec.workflows and not front.context.chains and not front.sources
    linted = pipeline.lint(["specs"])
    assert linted.context.chains and linted.sources and not linted.modules
    compiled = pipeline.run(["specs"])
    assert set(compiled.modules) == {
        "__init__.py",
        *(f"{m}.py" for m in compiled.compiled.values()),
    }
    assert compile_specs(["specs"]).modules == compiled.modules


@pytest.mark.parametrize(
    ("case", "rule"),
    [
        ("b002_duplicate_workflow_name", "B002"),
        ("b002_roster_and_inline", "B002"),
        ("b002_unknown_key", "B002"),
        ("b205_missing_roster", "B205"),
    ],
)
def test_front_end_defects_are_reported_by_their_rule(
    case: str, rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The front end records what it finds; only the registry's rule reports it."""
    monkeypatch.chdir(GOLDEN_ERR / case)
    front = pipeline.load_spec_set(["."])
    assert not [d for d in front.diagnostics if d.rule == rule]
    context = pipeline.run(["."], through=pipeline.references).context
    (registered,) = [r for r in RULES if r.id == rule]
    expected = [
        line for line in Path("expected.out").read_text("utf-8").splitlines() if rule in line
    ]
    found = [f"{d.span}: {d.rule} {d.severity.value}: {d.message}" for d in registered.run(context)]
    assert sorted(found) == sorted(expected)


def test_the_analysis_stages_hold_what_their_functions_compute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    context = pipeline.lint(["specs"]).context
    assert context.chains == delegation_chains(context.spec)
    assert context.reads == template_reads(context.spec)
    assert context.graphs == build_graphs(context.spec)
    assert any(chain.via for chain in context.chains)  # sub-workflow chains too


def test_codegen_does_not_import_the_rules() -> None:
    """Codegen reads the delegation chains from the pipeline, not from a rule module."""
    for path in Path(codegen.__file__).parent.glob("*.py"):
        imported = {
            node.module or ""
            for node in ast.walk(ast.parse(path.read_text("utf-8")))
            if isinstance(node, ast.ImportFrom)
        }
        assert not [m for m in imported if m.startswith("baton.compiler.rules")], path.name


def test_an_unknown_compatibility_mode_is_b002_not_a_crash(tmp_path: Path) -> None:
    """Found by the mutation property test: `compatibility: '0'` made rule B303 raise."""
    spec = (ROOT / "specs" / "research_report.yaml").read_text(encoding="utf-8")
    assert "    compatibility: backward\n" in spec
    for path in (ROOT / "specs").rglob("*"):
        if path.is_file():
            target = tmp_path / path.relative_to(ROOT / "specs")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    bad = spec.replace("    compatibility: backward\n", "    compatibility: '0'\n", 1)
    (tmp_path / "research_report.yaml").write_text(bad, encoding="utf-8")
    found = pipeline.lint([str(tmp_path)]).diagnostics
    assert [d.rule for d in found] == ["B002"]
    assert "invalid value \"0\" in 'handoffs.brief.compatibility'" in found[0].message
