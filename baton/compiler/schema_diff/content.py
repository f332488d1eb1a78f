"""Content models: which subschema governs a property name or an array position.

A name is *declared* (in `properties`), or falls to an *open* model (nothing constrains
it), a *closed* one (`additionalProperties: false`) or a *partially open* one (a pattern
property or an `additionalProperties` schema). The same holds for array positions with
`prefixItems` and `items`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from baton.compiler.schema_diff.shape import Shape, Sub, merge_subs

FALSE_KEY = ("false",)


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError):
        return None


def pattern_matches(pattern: str, name: str) -> bool | None:
    """Whether an ECMA-262 `pattern` matches `name` (unanchored); None if it cannot tell.

    >>> pattern_matches("^x-", "x-trace"), pattern_matches("^x-", "id"), pattern_matches("(", "a")
    (True, False, None)
    """
    compiled = _compiled(pattern)
    return None if compiled is None else compiled.search(name) is not None


@dataclass(frozen=True)
class Effective:
    """The subschema governing one name or position, and the model it comes from."""

    sub: Sub | None  # None: nothing constrains it
    model: str  # declared | open | closed | partial
    uncertain: bool = False  # a pattern could not be evaluated


def is_false(sub: Sub | None) -> bool:
    """Whether a subschema is literally `false`."""
    return sub is not None and sub.key == FALSE_KEY


def effective_property(shape: Shape, name: str) -> Effective:
    """What governs property `name` in an object of this shape."""
    parts: list[Sub] = []
    declared = closed = partial = uncertain = False
    for group in shape.objects:
        own = dict(group.properties).get(name)
        matched = []
        for pattern, sub in group.patterns:
            hit = pattern_matches(pattern, name)
            uncertain = uncertain or hit is None
            if hit:
                matched.append(sub)
        if own is not None:
            declared = True
            parts.append(own)
            parts.extend(matched)
        elif matched:
            partial = True
            parts.extend(matched)
        elif group.additional is not None:
            closed = closed or is_false(group.additional)
            partial = partial or not is_false(group.additional)
            parts.append(group.additional)
    merged: Sub | None = None
    for part in parts:
        merged = merge_subs(merged, part)
    fallback = "closed" if closed else "partial" if partial else "open"
    return Effective(merged, "declared" if declared else fallback, uncertain)


def declared_names(shape: Shape) -> set[str]:
    """Every name some `properties` of the shape declares."""
    return {name for group in shape.objects for name, _ in group.properties}


def effective_item(shape: Shape, index: int) -> Effective:
    """What governs array position `index` in an array of this shape."""
    if index < len(shape.prefix):
        return Effective(shape.prefix[index], "declared")
    if shape.rest is None:
        return Effective(None, "open")
    return Effective(shape.rest, "closed" if is_false(shape.rest) else "partial")
