"""Arrays: `prefixItems` positions, `items`, counts, `uniqueItems`, `contains`.

A position only matters in a direction if some array of the source side reaches it: with
`maxItems: 1` in OLD, what NEW says about position 1 cannot reject an old document.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from baton.compiler.schema_diff.bounds import compare_bound
from baton.compiler.schema_diff.content import Effective, effective_item
from baton.compiler.schema_diff.describe import change, item, subject, union_breaks
from baton.compiler.schema_diff.model import (
    BACKWARD,
    BOTH,
    BREAKS_BACKWARD,
    BREAKS_FORWARD,
    BREAKS_NOTHING,
    FORWARD,
    SchemaChange,
)
from baton.compiler.schema_diff.shape import Bound, Shape, is_universal

if TYPE_CHECKING:
    from baton.compiler.schema_diff.compare import Comparer

_EXPLICIT = frozenset({"maxItems", "maxProperties"})


def limit(bound: Bound | None) -> float:
    """A maximum count as a number (no bound is infinity)."""
    return math.inf if bound is None else float(bound.value)


def explicit(bound: Bound | None) -> bool:
    """Whether a maximum count was written, rather than implied by `items: false` or
    `additionalProperties: false` (those are reported by the item or property comparison)."""
    return bound is not None and bound.keyword in _EXPLICIT


def relevant(old_reaches: bool, new_reaches: bool) -> frozenset[str]:
    """The directions in which a position or property matters."""
    return (BREAKS_BACKWARD if old_reaches else BREAKS_NOTHING) | (
        BREAKS_FORWARD if new_reaches else BREAKS_NOTHING
    )


def within(changes: list[SchemaChange], directions: frozenset[str]) -> list[SchemaChange]:
    """The changes with their breaks limited to the directions that matter; a change that
    only broke directions that do not matter is moot and dropped."""
    return [
        replace(found, breaks=found.breaks & directions)
        for found in changes
        if found.breaks & directions or not found.breaks
    ]


def compare_arrays(cmp: Comparer, old: Shape, new: Shape, label: str) -> list[SchemaChange]:
    """Changes that only affect arrays."""
    found = compare_bound(
        old.min_items,
        new.min_items,
        lower=True,
        integral=True,
        keyword="minItems",
        label=label,
        old_path=old.path,
        new_path=new.path,
    )
    if explicit(old.max_items) or explicit(new.max_items):
        found += compare_bound(
            old.max_items,
            new.max_items,
            lower=False,
            integral=True,
            keyword="maxItems",
            label=label,
            old_path=old.path,
            new_path=new.path,
        )
    found += _unique(old, new, label)
    old_max, new_max = limit(old.max_items), limit(new.max_items)
    positions = max(len(old.prefix), len(new.prefix))
    for index in range(positions):
        directions = relevant(index < old_max, index < new_max)
        if directions:
            found += _position(cmp, old, new, label, index, directions)
    directions = relevant(old_max > positions, new_max > positions)
    if directions:
        found += _rest(cmp, old, new, label, directions)
    return found + _contains(cmp, old, new, label)


def _unique(old: Shape, new: Shape, label: str) -> list[SchemaChange]:
    if (old.unique is None) == (new.unique is None):
        return []
    if new.unique is not None:
        return [
            change(
                "UNIQUE_ITEMS_ADDED",
                BREAKS_BACKWARD,
                old.path,
                new.unique.pointer,
                f"items of {subject(label)} must now be unique",
            )
        ]
    assert old.unique is not None
    return [
        change(
            "UNIQUE_ITEMS_REMOVED",
            BREAKS_FORWARD,
            old.unique.pointer,
            new.path,
            f"items of {subject(label)} no longer need to be unique",
        )
    ]


def _path(side: Effective, shape: Shape) -> str:
    return side.sub.path if side.sub is not None and side.model == "declared" else shape.path


def _position(
    cmp: Comparer, old: Shape, new: Shape, label: str, index: int, directions: frozenset[str]
) -> list[SchemaChange]:
    before, after = effective_item(old, index), effective_item(new, index)
    old_path, new_path = _path(before, old), _path(after, new)
    raw = cmp.subs(before.sub, after.sub, item(label, index), old_path, new_path)
    nested = within(raw, directions)
    if before.model == "declared" and after.model == "declared":
        return nested
    if raw and not nested:
        return []
    breaks = union_breaks(nested)
    who = f"item {index} of {subject(label)}"
    if after.model == "declared":
        if before.model == "open":
            universal = after.sub is None or is_universal(cmp.norm.shape(after.sub))
            kind = (
                "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
                if universal
                else "ITEM_ADDED_TO_OPEN_CONTENT_MODEL"
            )
            message = f"{who} declared where any item was allowed"
        elif before.model == "closed":
            kind, message = (
                "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL",
                f"{who} added where no item was allowed",
            )
        else:
            covered = FORWARD not in breaks
            kind = (
                f"ITEM_ADDED_{'IS' if covered else 'NOT'}_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            )
            verdict = "accepted" if covered else "rejected some of"
            message = f"{who} declared; the old 'items' schema {verdict} its values"
    else:
        if after.model == "open":
            kind, message = (
                "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
                f"{who} removed; any item is allowed there now",
            )
        elif after.model == "closed":
            kind, message = (
                "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL",
                f"{who} removed; no item is allowed there now",
            )
        else:
            covered = BACKWARD not in breaks
            kind = (
                f"ITEM_REMOVED_{'IS' if covered else 'NOT'}_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            )
            verdict = "accepts" if covered else "rejects some of"
            message = f"{who} removed; the new 'items' schema {verdict} its values"
    return [change(kind, breaks, old_path, new_path, message)]


def _rest(
    cmp: Comparer, old: Shape, new: Shape, label: str, directions: frozenset[str]
) -> list[SchemaChange]:
    if old.rest is None and new.rest is None:
        return []
    old_path = old.rest.path if old.rest is not None else old.path
    new_path = new.rest.path if new.rest is not None else new.path
    raw = cmp.subs(old.rest, new.rest, item(label), old_path, new_path)
    nested = within(raw, directions)
    if (old.rest is not None and new.rest is not None) or not nested:
        return nested
    if old.rest is None:
        kind, message = "ITEMS_ADDED", f"items of {subject(label)} are now constrained by 'items'"
    else:
        kind, message = (
            "ITEMS_REMOVED",
            f"items of {subject(label)} are no longer constrained by 'items'",
        )
    return [change(kind, union_breaks(nested), old_path, new_path, message)]


def _contains(cmp: Comparer, old: Shape, new: Shape, label: str) -> list[SchemaChange]:
    if set(old.contains) == set(new.contains):
        return []
    who = subject(label)
    if len(old.contains) == 1 and len(new.contains) == 1:
        before, after = old.contains[0], new.contains[0]
        # With maxContains, a wider `contains` schema counts more items: only equal
        # counts and no maximum reduce to comparing the schemas.
        if (before.minimum, before.maximum) == (
            after.minimum,
            after.maximum,
        ) and before.maximum is None:
            return cmp.subs(
                before.schema, after.schema, f"{label} contains", before.pointer, after.pointer
            )
        message = f"'contains' of {who} changed its counts; assumed to break both directions"
        return [change("CONTAINS_CHANGED", BOTH, before.pointer, after.pointer, message)]
    found = [
        change(
            "CONTAINS_ADDED",
            BREAKS_BACKWARD,
            old.path,
            c.pointer,
            f"{who} must now contain a matching item",
        )
        for c in new.contains
        if c not in old.contains
    ]
    return found + [
        change(
            "CONTAINS_REMOVED",
            BREAKS_FORWARD,
            c.pointer,
            new.path,
            f"{who} no longer needs to contain a matching item",
        )
        for c in old.contains
        if c not in new.contains
    ]
