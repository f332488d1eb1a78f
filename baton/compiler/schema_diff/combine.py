"""Simplifying `anyOf` / `oneOf` before comparing: drop impossible branches, merge branches
that are one schema in disguise, and fold what is left into the parent when possible.

`anyOf: [{type: string}, {type: integer}]` is `type: [string, integer]`, and
`anyOf: [{minItems: 3}, {maxItems: 2}]` is every array; comparing the merged form finds
those equivalences that branch-by-branch matching would miss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from typing import Any

from baton.compiler.schema_diff.shape import (
    UNIVERSAL,
    Bound,
    Choice,
    Shape,
    empty_shape,
    is_universal,
)
from baton.compiler.schema_diff.values import ALL_TYPES, NUMBER_TYPES

Disjoint = Callable[[Shape, Shape], bool]

# type atoms -> the Shape fields that only constrain values of those atoms
_FAMILIES: tuple[tuple[frozenset[str], tuple[str, ...]], ...] = (
    (NUMBER_TYPES, ("lower", "upper", "multiple_of")),
    (frozenset({"string"}), ("min_length", "max_length", "patterns", "formats")),
    (
        frozenset({"array"}),
        ("min_items", "max_items", "prefix", "rest", "unique", "contains"),
    ),
    (
        frozenset({"object"}),
        (
            "objects",
            "required",
            "min_props",
            "max_props",
            "property_names",
            "dep_required",
            "dep_schemas",
        ),
    ),
)
_RANGES = (
    ("lower", "upper", False),
    ("min_length", "max_length", True),
    ("min_items", "max_items", True),
    ("min_props", "max_props", True),
)


def _plain(shape: Shape) -> bool:
    return not (shape.nots or shape.choices or shape.opaque or shape.unresolved)


def _merge_disjoint_types(a: Shape, b: Shape) -> Shape | None:
    # {type: string, maxLength: 3} or {type: array, minItems: 1} is one schema with both
    # types: each constraint only applies to its own type.
    if a.types & b.types or a.values is not None or b.values is not None:
        return None
    merged = replace(a, types=a.types | b.types)
    for atoms, names in _FAMILIES:
        mine, theirs = bool(a.types & atoms), bool(b.types & atoms)
        for name in names:
            if mine and theirs and getattr(a, name) != getattr(b, name):
                return None
            if theirs and not mine:
                merged = replace(merged, **{name: getattr(b, name)})
    return merged


def _joins(first_high: Bound | None, second_low: Bound | None, integral: bool) -> bool:
    if first_high is None or second_low is None:
        return True
    if integral:
        return first_high.value + 1 >= second_low.value
    if first_high.value != second_low.value:
        return first_high.value > second_low.value
    return not (first_high.exclusive and second_low.exclusive)


def _merge_ranges(a: Shape, b: Shape) -> Shape | None:
    # Two branches equal but for one range: their union is one range if the ranges touch.
    for low_name, high_name, integral in _RANGES:
        cleared: dict[str, Any] = {low_name: None, high_name: None}
        if replace(a, **cleared) != replace(b, **cleared):
            continue
        first, second = sorted((a, b), key=lambda s: _low_key(getattr(s, low_name), integral))
        if not _joins(getattr(first, high_name), getattr(second, low_name), integral):
            return None
        low = getattr(first, low_name)
        if getattr(second, low_name) is None:
            low = None
        high_a, high_b = getattr(a, high_name), getattr(b, high_name)
        high = None if high_a is None or high_b is None else max(high_a, high_b, key=_high_key)
        return replace(first, **{low_name: low, high_name: high})
    return None


def _low_key(bound: Bound | None, integral: bool) -> tuple[Fraction, bool]:
    if bound is None:
        return (Fraction(0) if integral else Fraction(-(10**300)), False)
    return (bound.value, bound.exclusive)


def _high_key(bound: Bound) -> tuple[Fraction, bool]:
    return (bound.value, not bound.exclusive)


def _merge_values(a: Shape, b: Shape) -> Shape | None:
    # {const: 1} or {const: 2} is {enum: [1, 2]} when nothing else differs (the types
    # were narrowed to the values' own types, so they may differ)
    if a.values is None or b.values is None:
        return None
    if replace(a, values=None, types=ALL_TYPES) != replace(b, values=None, types=ALL_TYPES):
        return None
    return replace(a, values=a.values | b.values, types=a.types | b.types, values_keyword="enum")


def _merge(a: Shape, b: Shape) -> Shape | None:
    if a == b:
        return a
    if not (_plain(a) and _plain(b)):
        return None
    return _merge_values(a, b) or _merge_disjoint_types(a, b) or _merge_ranges(a, b)


def simplify_choice(
    keyword: str,
    branches: list[tuple[Shape, str]],
    pointer: str,
    path: str,
    disjoint: Disjoint,
) -> Shape:
    """A shape to intersect into the parent in place of the `anyOf` / `oneOf`."""
    written = keyword
    live = [(shape, where) for shape, where in branches if not shape.empty]
    if not live:
        return empty_shape(path)
    if keyword == "oneOf" and len(live) > 1:
        if all(disjoint(a, b) for i, (a, _) in enumerate(live) for b, _ in live[i + 1 :]):
            keyword = "anyOf"  # exclusive branches: oneOf means anyOf
        elif all(
            any(a == b for j, (b, _) in enumerate(live) if j != i) for i, (a, _) in enumerate(live)
        ):
            return empty_shape(path)  # every value of a branch matches its twin as well
    if keyword == "anyOf":
        if any(is_universal(shape) for shape, _ in live):
            return UNIVERSAL
        live = _fold(live)
    if len(live) == 1:
        return replace(live[0][0], path=path)
    return Shape(
        path=path,
        choices=(
            Choice(
                keyword,
                tuple(shape for shape, _ in live),
                tuple(where for _, where in live),
                pointer,
                written,
            ),
        ),
    )


def _fold(live: list[tuple[Shape, str]]) -> list[tuple[Shape, str]]:
    changed = True
    while changed and len(live) > 1:
        changed = False
        for i in range(len(live)):
            for j in range(i + 1, len(live)):
                merged = _merge(live[i][0], live[j][0])
                if merged is not None:
                    live[i] = (merged, live[i][1])
                    del live[j]
                    changed = True
                    break
            if changed:
                break
    return live
