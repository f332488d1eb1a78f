"""Generate docs/rules.md from the rule table, so the docs cannot drift from the code.

Each rule's documentation is its check function's docstring (registry.Rule.docs): what
it checks, then `Why:` and `Example:` paragraphs. Regenerate with

    python -m baton.compiler.rules.docs > docs/rules.md

and tests/test_docs.py fails when the checked-in file differs from this output.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from baton.compiler.rules.registry import RULES, Rule

REGENERATE = "python -m baton.compiler.rules.docs > docs/rules.md"
_LABELS = ("Why:", "Example:")


def rule_anchor(rule: Rule) -> str:
    """The anchor of a rule's section that never changes: its id (ids are stable forever,
    names may be improved). SARIF `helpUri`s link to it.

    >>> from baton.compiler.diagnostics import Severity
    >>> rule_anchor(Rule("B101", "dependency-cycle", Severity.ERROR, "", lambda c: iter(())))
    'b101'
    """
    return rule.id.lower()


def heading_anchor(rule: Rule) -> str:
    """The anchor GitHub derives from a rule's heading `## B101 dependency-cycle`.

    >>> from baton.compiler.diagnostics import Severity
    >>> heading_anchor(Rule("B101", "dependency-cycle", Severity.ERROR, "", lambda c: iter(())))
    'b101-dependency-cycle'
    """
    return f"{rule.id}-{rule.name}".lower()


def _table_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _paragraphs(docs: str) -> list[str]:
    """A docstring's paragraphs, each joined to one line; `Why:`/`Example:` in bold.

    >>> _paragraphs("Checks a thing\\nacross lines.\\n\\nWhy: it matters.")
    ['Checks a thing across lines.', '**Why:** it matters.']
    """
    out = []
    for block in docs.split("\n\n"):
        text = " ".join(line.strip() for line in block.strip().splitlines())
        if not text:
            continue
        for label in _LABELS:
            if text.startswith(label):
                text = f"**{label}**{text[len(label) :]}"
        out.append(text)
    return out


def _table(rules: Iterable[Rule]) -> list[str]:
    lines = ["| id | name | severity | what it finds |", "|---|---|---|---|"]
    for rule in rules:
        lines.append(
            f"| [{rule.id}](#{heading_anchor(rule)}) | `{rule.name}` | {rule.severity.value} "
            f"| {_table_cell(rule.summary)} |"
        )
    return lines


def _silence(rule: Rule) -> str:
    if not rule.silenceable:
        return "This rule cannot be silenced or deselected."
    return f"Silence a finding with `# baton: ignore[{rule.id}]` on the line it points at."


def help_markdown(rule: Rule) -> str:
    """A rule's documentation as markdown: its section of docs/rules.md without the
    heading (SARIF `help.markdown`)."""
    paragraphs = _paragraphs(rule.docs) or ["(no documentation yet)"]
    return "\n\n".join([*paragraphs, _silence(rule)])


def help_text(rule: Rule) -> str:
    """The same as plain text (SARIF `help.text`, for viewers that do not render markdown)."""
    paragraphs = [" ".join(block.split()) for block in rule.docs.split("\n\n") if block.strip()]
    return "\n\n".join([*(paragraphs or ["(no documentation yet)"]), _silence(rule)])


def _section(rule: Rule) -> list[str]:
    return [
        # the stable anchor (#b101) is the one SARIF rules link to (compiler/formats.py)
        f'<a id="{rule_anchor(rule)}"></a>',
        "",
        f"## {rule.id} {rule.name}",
        "",
        f"Severity: **{rule.severity.value}**. {rule.summary[:1].upper()}{rule.summary[1:]}.",
        "",
        help_markdown(rule),
        "",
    ]


def render_rules_markdown(rules: Iterable[Rule] = RULES) -> str:
    """docs/rules.md: a table of every rule, then one section per rule from its docstring."""
    rules = tuple(rules)
    lines = [
        "# Lint rules",
        "",
        f"<!-- Generated from baton/compiler/rules/registry.py by `{REGENERATE}`. Do not edit. -->",
        "",
        "`baton lint` runs every rule below on a spec set and reports each finding as",
        "`file:line:col: ID severity: message`. Ids are stable forever; new rules get new",
        "ids. Errors make `baton lint` exit 1; warnings do too under `--strict`. Silence a",
        "finding on its line with `# baton: ignore[ID]`, or choose rules project-wide in",
        "`pyproject.toml` under `[tool.baton.lint]` (see [cli.md](cli.md)).",
        "",
        *_table(rules),
        "",
    ]
    for rule in rules:
        lines += _section(rule)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    """Print docs/rules.md to stdout."""
    sys.stdout.write(render_rules_markdown())


if __name__ == "__main__":
    main()
