"""Findings as values: the linter returns them, formatters render them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from baton.compiler.span import Span


class Severity(StrEnum):
    """How bad a finding is; `--strict` makes warnings fail too."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One finding: a rule id, its severity, where, and what is wrong."""

    rule: str
    severity: Severity
    span: Span
    message: str
    notes: tuple[str, ...] = field(default=())

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.span.path, self.span.line, self.span.col, self.rule, self.message)


@dataclass(frozen=True)
class Problem:
    """A defect a pipeline stage found before the rules run (the structure check, roster
    resolution); the rule it belongs to reports it, with its own id."""

    span: Span
    message: str


class Report(Protocol):
    """How a rule reports a finding: the rule's id and severity are already bound, so a
    rule cannot emit a finding under another rule's id (actionlint's `RuleBase.Errorf`)."""

    def __call__(self, span: Span, message: str, notes: Iterable[str] = ()) -> None: ...


@dataclass(frozen=True)
class Reporter:
    """A `Report` bound to one rule: appends its findings to `findings`."""

    rule: str
    severity: Severity
    findings: list[Diagnostic]

    def __call__(self, span: Span, message: str, notes: Iterable[str] = ()) -> None:
        self.findings.append(Diagnostic(self.rule, self.severity, span, message, tuple(notes)))


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A "did you mean" suffix for a near miss, or "".

    >>> did_you_mean("nedds", ["needs", "agent"])
    " (did you mean 'needs'?)"
    >>> did_you_mean("zzz", ["needs"])
    ''
    """
    close = difflib.get_close_matches(name, sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def choices_text(choices: Iterable[str]) -> str:
    """Valid choices, sorted and quoted, for "expected one of" messages.

    >>> choices_text(["b", "a"])
    "'a', 'b'"
    """
    return ", ".join(f"'{c}'" for c in sorted(set(choices))) or "none"


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Findings in file, line, column, rule order, each once."""
    return sorted(set(diagnostics), key=Diagnostic.sort_key)
