"""What the checker reports: `SchemaChange`, and the modes it is judged against."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

BACKWARD = "backward"  # every document valid under OLD is valid under NEW
FORWARD = "forward"  # every document valid under NEW is valid under OLD
MODES = ("backward", "forward", "full", "none")

BOTH = frozenset({BACKWARD, FORWARD})
BREAKS_BACKWARD = frozenset({BACKWARD})
BREAKS_FORWARD = frozenset({FORWARD})
BREAKS_NOTHING: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SchemaChange:
    """One difference between two schemas, and the compatibility directions it breaks.

    `old_pointer` / `new_pointer` locate it in each schema (where a keyword is absent on
    one side, the pointer of the schema that lacks it). `kind` is one of `KINDS`.
    """

    kind: str
    breaks: frozenset[str]  # subset of {"backward", "forward"}
    old_pointer: str
    new_pointer: str
    message: str

    @property
    def severity(self) -> str:
        """ "error" when the change breaks a direction, "info" otherwise."""
        return "error" if self.breaks else "info"


@dataclass(frozen=True)
class KindInfo:
    """One kind of change: its name, a one-line meaning and an example (old, new)."""

    name: str
    summary: str
    old: object
    new: object


def _pointer_key(pointer: str) -> tuple[tuple[int, int | str], ...]:
    # Array indexes sort numerically: #/anyOf/2 before #/anyOf/10.
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in pointer.split("/"))


def sort_changes(changes: Iterable[SchemaChange]) -> list[SchemaChange]:
    """Changes in pointer, then kind order, duplicates merged (their breaks united)."""
    merged: dict[tuple[str, str, str, str], frozenset[str]] = {}
    for change in changes:
        key = (change.kind, change.old_pointer, change.new_pointer, change.message)
        merged[key] = merged.get(key, frozenset()) | change.breaks
    result = [
        SchemaChange(kind, breaks, old, new, msg)
        for (kind, old, new, msg), breaks in merged.items()
    ]
    return sorted(
        result,
        key=lambda c: (_pointer_key(c.old_pointer), _pointer_key(c.new_pointer), c.kind, c.message),
    )


def breaks_mode(changes: Iterable[SchemaChange], mode: str) -> bool:
    """Whether the changes break compatibility mode `mode` (backward, forward, full, none).

    >>> change = SchemaChange("TYPE_NARROWED", BREAKS_BACKWARD, "#/type", "#/type", "")
    >>> [breaks_mode([change], mode) for mode in MODES]
    [True, False, True, False]
    """
    if mode not in MODES:
        raise ValueError(f"unknown compatibility mode '{mode}': expected one of {', '.join(MODES)}")
    if mode == "none":
        return False
    wanted = BOTH if mode == "full" else frozenset({mode})
    return any(change.breaks & wanted for change in changes)
