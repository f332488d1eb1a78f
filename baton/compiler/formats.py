"""Render findings: text (with the source line and a caret), json, sarif 2.1.0, github."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from baton.compiler.diagnostics import Diagnostic

FORMATS = ("text", "json", "sarif", "github")
TOOL_URI = "https://github.com/baton-workflows/baton"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
RULES_DOC_URI = f"{TOOL_URI}/blob/main/docs/rules.md"


def render(
    diagnostics: Sequence[Diagnostic],
    fmt: str,
    sources: Mapping[str, Sequence[str]],
    version: str = "0.1.0",
) -> str:
    """All findings in one format; empty text output for a clean spec set."""
    if fmt == "json":
        return render_json(diagnostics)
    if fmt == "sarif":
        return render_sarif(diagnostics, version)
    if fmt == "github":
        return "".join(render_github(d) + "\n" for d in diagnostics)
    return "".join(render_text(d, sources) for d in diagnostics)


def render_text(diagnostic: Diagnostic, sources: Mapping[str, Sequence[str]]) -> str:
    """`path:line:col: B101 error: message`, then the source line with a caret."""
    span = diagnostic.span
    out = f"{span}: {diagnostic.rule} {diagnostic.severity.value}: {diagnostic.message}\n"
    lines = sources.get(span.path, ())
    if 0 < span.line <= len(lines):
        out += _source_excerpt(lines[span.line - 1].expandtabs(1), span.col)
    for note in diagnostic.notes:
        out += f"  note: {note}\n"
    return out


def _source_excerpt(line: str, col: int, width: int = 100) -> str:
    """The source line and a caret under column `col`; a line longer than `width` is
    cut to a window of `width` characters around the column, `…` marking each cut.

    >>> print(_source_excerpt("x" * 300 + "!" + "y" * 300, 301), end="")
      …xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx!yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy…
                                                         ^
    """
    start = 0
    if len(line) > width:
        start = min(max(0, col - 1 - width // 2), len(line) - width)
        end = start + width
        line = ("…" if start else "") + line[start:end] + ("…" if end < len(line) else "")
        start -= 1 if start else 0  # the caret moves right past the leading `…`
    return f"  {line}\n  {' ' * (col - 1 - start)}^\n"


def _as_dict(diagnostic: Diagnostic) -> dict[str, object]:
    span = diagnostic.span
    return {
        "rule": diagnostic.rule,
        "severity": diagnostic.severity.value,
        "path": span.path,
        "line": span.line,
        "column": span.col,
        "message": diagnostic.message,
        "notes": list(diagnostic.notes),
    }


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps([_as_dict(d) for d in diagnostics], indent=2) + "\n"


def _escape_github(text: str, for_property: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if for_property:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(diagnostic: Diagnostic) -> str:
    """A GitHub Actions workflow command: `::error file=...,line=...,col=...::message`."""
    span = diagnostic.span
    level = "error" if diagnostic.severity.value == "error" else "warning"
    props = ",".join(
        [
            f"file={_escape_github(span.path, True)}",
            f"line={span.line}",
            f"col={span.col}",
            f"title={_escape_github(diagnostic.rule, True)}",
        ]
    )
    return f"::{level} {props}::{_escape_github(f'{diagnostic.rule}: {diagnostic.message}')}"


def render_sarif(diagnostics: Sequence[Diagnostic], version: str) -> str:
    """A SARIF 2.1.0 log with one run, the full rule table and one result per finding."""
    from baton.compiler.rules.docs import help_markdown, help_text, rule_anchor
    from baton.compiler.rules.registry import RULES

    index = {rule.id: position for position, rule in enumerate(RULES)}
    rules = [
        {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": rule.docs},
            "help": {"text": help_text(rule), "markdown": help_markdown(rule)},
            "helpUri": f"{RULES_DOC_URI}#{rule_anchor(rule)}",
            "defaultConfiguration": {"level": rule.severity.value},
        }
        for rule in RULES
    ]
    results = []
    for diagnostic in diagnostics:
        span = diagnostic.span
        region: dict[str, int] = {"startLine": span.line, "startColumn": span.col}
        result: dict[str, object] = {
            "ruleId": diagnostic.rule,
            "level": diagnostic.severity.value,
            "message": {"text": diagnostic.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {
                            # a URI reference: spaces and '%' in paths are percent-encoded
                            "uri": quote(span.path.replace("\\", "/"), safe="/"),
                            "uriBaseId": "%SRCROOT%",
                        },
                        "region": region,
                    }
                }
            ],
        }
        if diagnostic.rule in index:
            result["ruleIndex"] = index[diagnostic.rule]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "baton",
                        "informationUri": TOOL_URI,
                        "semanticVersion": version,
                        "rules": rules,
                    }
                },
                # columns count characters (code points), as the loader's YAML marks do,
                # not UTF-16 units (the SARIF default)
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
