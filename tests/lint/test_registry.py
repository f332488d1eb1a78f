"""The rule table: a rule reports through a reporter bound to its id and severity, so a
rule cannot emit a finding under another rule's id."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.compiler import rules
from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Diagnostic, Report, Severity
from baton.compiler.pipeline import LintOptions, references, run
from baton.compiler.rules.registry import RULES, Rule
from baton.compiler.span import Span

GOLDEN_ERR = Path(__file__).resolve().parents[1] / "golden" / "lint" / "err"
RULE_MODULES = sorted(
    p for p in Path(rules.__file__).parent.glob("*.py") if p.name not in ("registry.py", "docs.py")
)


def test_every_finding_carries_the_id_and_severity_of_the_rule_that_reported_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reported: set[str] = set()
    for case in sorted(p for p in GOLDEN_ERR.iterdir() if p.is_dir()):
        monkeypatch.chdir(case)
        probe = (case / "probe-tools").is_file()  # B703 lists MCP servers only when asked
        options = LintOptions(probe_tools=probe)
        context = run(["."], options, through=references).context  # what the rules read
        for rule in RULES:
            for finding in rule.run(context):
                assert (finding.rule, finding.severity) == (rule.id, rule.severity), case.name
                reported.add(rule.id)
    # the rules found something to report (B001 and B003 come from the loader)
    assert {rule.id for rule in RULES} - reported <= {"B001", "B003"}


def test_rule_modules_never_construct_a_diagnostic() -> None:
    """Ids are attached by the registry, never written in a rule module."""
    for path in RULE_MODULES:
        tree = ast.parse(path.read_text("utf-8"))
        built = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("Diagnostic")
        ]
        assert not built, f"{path.name}:{built}"
    assert len(RULE_MODULES) >= 7


def test_every_registered_check_takes_a_reporter() -> None:
    for rule in RULES:
        assert list(inspect.signature(rule.check).parameters) == ["ctx", "report"], rule.id


def _context() -> LintContext:
    return run([str(GOLDEN_ERR / "b102_unknown_step")], through=references).context


def test_a_reporter_stamps_its_rule() -> None:
    def check(ctx: LintContext, report: Report) -> None:
        report(Span("a.yaml", 2, 3), "first")
        report(Span("a.yaml", 4, 5), "second", notes=["a note"])

    found = Rule("B999", "example", Severity.WARNING, "an example", check).run(_context())
    assert found == [
        Diagnostic("B999", Severity.WARNING, Span("a.yaml", 2, 3), "first"),
        Diagnostic("B999", Severity.WARNING, Span("a.yaml", 4, 5), "second", ("a note",)),
    ]


def test_a_rule_in_the_older_form_still_runs() -> None:
    """A check that yields `Diagnostic(...)` values itself (the form before reporters) is
    run as written, so a module still in that form keeps working."""

    def check(ctx: LintContext) -> Iterator[Diagnostic]:
        for workflow in ctx.spec.workflows.values():
            yield Diagnostic("B998", Severity.ERROR, workflow.span, f"saw '{workflow.name}'")

    found = Rule("B998", "older", Severity.ERROR, "older form", check).run(_context())
    assert [(d.rule, d.message) for d in found] == [("B998", "saw 'needs_typo'")]
