"""Provable disjointness: no value is accepted by both shapes.

Used for `oneOf` (a value must match exactly one branch) and `not` (a value must avoid
the negated schema). Only answers True when it is sure: different types, disjoint enums
or ranges, or a property that one side requires and both constrain disjointly (the usual
`kind: {const: ...}` discriminator).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from baton.compiler.schema_diff.content import effective_property
from baton.compiler.schema_diff.feasible import value_fits
from baton.compiler.schema_diff.shape import UNIVERSAL, Bound, Shape, Sub
from baton.compiler.schema_diff.values import NUMBER_TYPES, atom_of

Normalize = Callable[[Sub], Shape]
_MAX_DEPTH = 3


def _apart(high: Bound | None, low: Bound | None) -> bool:
    # Everything under `high` is below everything over `low`.
    if high is None or low is None:
        return False
    if high.value != low.value:
        return high.value < low.value
    return high.exclusive or low.exclusive


def _ranges_apart(
    low_a: Bound | None, high_a: Bound | None, low_b: Bound | None, high_b: Bound | None
) -> bool:
    return _apart(high_a, low_b) or _apart(high_b, low_a)


def _values_apart(a: Shape, b: Shape, atom: str) -> bool:
    mine = None if a.values is None else {k for k in a.values if atom_of(json.loads(k)) == atom}
    theirs = None if b.values is None else {k for k in b.values if atom_of(json.loads(k)) == atom}
    if mine is not None and theirs is not None:
        return not mine & theirs
    if mine is not None:
        return not any(value_fits(b, json.loads(k)) for k in mine)
    if theirs is not None:
        return not any(value_fits(a, json.loads(k)) for k in theirs)
    return False


def _discriminated(a: Shape, b: Shape, normalize: Normalize, depth: int) -> bool:
    if depth >= _MAX_DEPTH:
        return False
    names = sorted({str(m.value) for m in a.required} | {str(m.value) for m in b.required})
    for name in names:
        mine, theirs = effective_property(a, name), effective_property(b, name)
        if mine.uncertain or theirs.uncertain or (mine.sub is None and theirs.sub is None):
            continue
        left = UNIVERSAL if mine.sub is None else normalize(mine.sub)
        right = UNIVERSAL if theirs.sub is None else normalize(theirs.sub)
        if disjoint(left, right, normalize, depth + 1):
            return True
    return False


def _atom_apart(a: Shape, b: Shape, atom: str, normalize: Normalize, depth: int) -> bool:
    if _values_apart(a, b, atom):
        return True
    if atom in NUMBER_TYPES:
        return _ranges_apart(a.lower, a.upper, b.lower, b.upper)
    if atom == "string":
        return _ranges_apart(a.min_length, a.max_length, b.min_length, b.max_length)
    if atom == "array":
        return _ranges_apart(a.min_items, a.max_items, b.min_items, b.max_items)
    if atom == "object":
        return _ranges_apart(a.min_props, a.max_props, b.min_props, b.max_props) or _discriminated(
            a, b, normalize, depth
        )
    return False


def disjoint(a: Shape, b: Shape, normalize: Normalize, depth: int = 0) -> bool:
    """Whether no value satisfies both shapes (False when unsure)."""
    if a.empty or b.empty:
        return True
    for one, other in ((a, b), (b, a)):
        for choice in one.choices:
            if all(disjoint(branch, other, normalize, depth) for branch in choice.branches):
                return True
    common = a.types & b.types
    return all(_atom_apart(a, b, atom, normalize, depth) for atom in sorted(common))
