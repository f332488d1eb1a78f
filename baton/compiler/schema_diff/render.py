"""Output: one line per change for people, JSON for tools."""

from __future__ import annotations

import json
from collections.abc import Sequence

from baton.compiler.schema_diff.model import BACKWARD, FORWARD, SchemaChange, breaks_mode


def _breaks_text(change: SchemaChange) -> str:
    directions = [d for d in (BACKWARD, FORWARD) if d in change.breaks]
    return "breaks " + " and ".join(directions) if directions else "breaks nothing"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def summary(changes: Sequence[SchemaChange], mode: str) -> str:
    """The last line of the text output: counts and the verdict for `mode`.

    >>> summary([], "backward")
    'no changes: compatible (mode backward)'
    """
    if not changes:
        return f"no changes: compatible (mode {mode})"
    errors = sum(1 for change in changes if change.severity == "error")
    verdict = "incompatible" if breaks_mode(changes, mode) else "compatible"
    infos = len(changes) - errors
    counts = f"{_plural(len(changes), 'change')} ({_plural(errors, 'error')}, {infos} info)"
    return f"{counts}: {verdict} (mode {mode})"


def render_text(changes: Sequence[SchemaChange], mode: str) -> str:
    """`error  TYPE_NARROWED  breaks backward  #/a/type -> #/a/type: message` lines, then
    a summary line."""
    lines = [
        f"{change.severity:<5}  {change.kind}  {_breaks_text(change)}  "
        f"{change.old_pointer} -> {change.new_pointer}: {change.message}"
        for change in changes
    ]
    lines.append(summary(changes, mode))
    return "\n".join(lines) + "\n"


def render_json(changes: Sequence[SchemaChange], mode: str) -> str:
    """`{"mode", "compatible", "changes": [...]}` as indented JSON."""
    document = {
        "mode": mode,
        "compatible": not breaks_mode(changes, mode),
        "changes": [
            {
                "kind": change.kind,
                "severity": change.severity,
                "breaks": sorted(change.breaks),
                "old_pointer": change.old_pointer,
                "new_pointer": change.new_pointer,
                "message": change.message,
            }
            for change in changes
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
