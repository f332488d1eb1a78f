"""Wording shared by the comparisons: who a change is about, and building a change."""

from __future__ import annotations

from baton.compiler.schema_diff.kinds import KINDS
from baton.compiler.schema_diff.model import SchemaChange


def subject(label: str) -> str:
    """How a message names the value a schema describes.

    >>> subject(""), subject("sources[]")
    ('the root schema', "'sources[]'")
    """
    return f"'{label}'" if label else "the root schema"


def child(label: str, name: str) -> str:
    """The label of a property.

    >>> child("", "a"), child("a", "b")
    ('a', 'a.b')
    """
    return f"{label}.{name}" if label else name


def item(label: str, index: int | None = None) -> str:
    """The label of array items, or of one position.

    >>> item("tags"), item("pair", 1)
    ('tags[]', 'pair[1]')
    """
    return f"{label}[{'' if index is None else index}]"


def quote(text: str) -> str:
    """A name or pattern in single quotes."""
    return f"'{text}'"


def change(
    kind: str, breaks: frozenset[str], old_pointer: str, new_pointer: str, message: str
) -> SchemaChange:
    """A change of a kind from the table (an unknown kind is a bug in the checker)."""
    if kind not in KINDS:
        raise KeyError(f"change kind '{kind}' is missing from the kinds table")
    return SchemaChange(kind, breaks, old_pointer, new_pointer, message)


def union_breaks(changes: list[SchemaChange]) -> frozenset[str]:
    """Every direction broken by some change."""
    result: frozenset[str] = frozenset()
    for found in changes:
        result |= found.breaks
    return result
