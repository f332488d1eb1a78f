"""The example specs shipped in specs/ lint clean, strictly (no warnings either)."""

from __future__ import annotations

from baton.compiler.pipeline import lint


def test_example_specs_lint_clean() -> None:
    result = lint(["specs"])
    assert [f"{d.span}: {d.rule} {d.message}" for d in result.diagnostics] == []
    assert {"research_report", "summarize"} <= set(result.spec.workflows)
