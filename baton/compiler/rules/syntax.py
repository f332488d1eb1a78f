"""Rules about the file itself: YAML syntax, the spec format, templates.

B001 and B003 are found while loading (the loader produces them); their functions here
exist for the rule table and the docs. B002 reports what the front end found (the
structure check, names used twice, two rosters) and checks each step's shape in the IR.
B010 parses templates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from baton.compiler import ir
from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Report
from baton.compiler.span import Span
from baton.compiler.templates import parse_template


def yaml_syntax(ctx: LintContext, report: Report) -> None:
    """The file is not readable YAML: a syntax error, not UTF-8, binary, too large, nested
    too deeply, or an alias bomb.

    Why: nothing else can be checked in a file that does not parse; the other files of the
    spec set are still linted.

    Example: `steps: [a, b` (an unclosed flow sequence).
    """


def invalid_spec(ctx: LintContext, report: Report) -> None:
    """The file does not match the spec format: an unknown key, a value of the wrong type, a
    missing required key, a bad identifier or a bad duration.

    Why: a typo such as `nedds:` would otherwise be ignored silently and the step would run
    without its dependency. The format's JSON Schema is `baton schema spec`.

    Example: `timeout: 5x` (expected a duration such as 30s or 2m).
    """
    # what the front end found: the structure check, names used twice, two rosters
    for problem in ctx.invalid:
        report(problem.span, problem.message)
    for workflow in ctx.spec.workflows.values():
        for step in workflow.steps.values():
            if step.agent is None and step.workflow is None and not step.route:
                report(
                    step.span,
                    f"step '{step.id}' needs 'agent' (who runs it) or 'workflow' (a sub-workflow)",
                )
            if step.agent and step.workflow:
                report(
                    step.workflow.span,
                    f"step '{step.id}' has both 'agent' and 'workflow'; a step is one or the other",
                )
            if step.workflow and step.output:
                report(
                    step.output.span,
                    f"sub-workflow step '{step.id}' declares 'output'; its output is the "
                    "child workflow's result",
                )


def duplicate_key(ctx: LintContext, report: Report) -> None:
    """A mapping has the same key twice.

    Why: YAML parsers keep only one of the two, silently; the other definition is lost.

    Example: two `research:` steps in one `steps:` mapping.
    """


def template_syntax(ctx: LintContext, report: Report) -> None:
    """A template or expression does not parse, or uses a construct the sandbox forbids
    (statements, function calls, private attributes, unknown filters or tests).

    Why: the runtime renders templates in a sandbox; a template that cannot render fails
    the run at the worst moment, after earlier steps have done their work.

    Example: `summary: "{{ steps.research.output.summary "` (unclosed `{{`).
    """
    for workflow in ctx.spec.workflows.values():
        for step in workflow.steps.values():
            for template in step.templates():
                parsed = parse_template(template.source, template.is_expression)
                if parsed.error:
                    what = "expression" if template.is_expression else "template"
                    report(
                        _line_span(template, parsed.error_lineno, ctx.spec.sources),
                        f"{what} in step '{step.id}': {parsed.error}",
                    )


def _line_span(template: ir.Template, lineno: int, sources: Mapping[str, Sequence[str]]) -> Span:
    """Where line `lineno` of a template is written. Only a literal block scalar (`|`)
    keeps the template's lines as source lines; its text starts on the next line. In any
    other scalar, line breaks come from escapes or folding: point at the scalar."""
    span = template.span
    lines = sources.get(span.path, ())
    if not 0 < span.line <= len(lines) or lines[span.line - 1][span.col - 1 : span.col] != "|":
        return span
    line = span.line + lineno
    if line > len(lines):
        return span
    text = lines[line - 1]
    return Span(span.path, line, len(text) - len(text.lstrip(" ")) + 1)
