"""The walk: compare two schemas in normal form, keyword family by keyword family.

Soundness rests on one fact: a normalized schema is a conjunction of constraints, each
gated by the type it applies to. If every constraint of NEW is implied by OLD's
constraint on the same keyword (absent = `true`), every value OLD accepts passes NEW.
So each family reports, per change, which directions it may break, and a change is only
left out when that implication is proven. What cannot be proven (`anyOf` coverage,
`oneOf` exclusivity, `not`) goes through `subset` and `disjoint`, which answer "yes" only
when sure.

Recursion: a pair of subschemas being compared is assumed compatible when it is met
again below itself (coinduction, as for recursive types), so recursive schemas stop.
"""

from __future__ import annotations

from dataclasses import replace

from baton.compiler.schema_diff.arrays import compare_arrays
from baton.compiler.schema_diff.describe import change, subject
from baton.compiler.schema_diff.logic import compare_choices, compare_nots
from baton.compiler.schema_diff.model import BACKWARD, BREAKS_BACKWARD, BREAKS_FORWARD, SchemaChange
from baton.compiler.schema_diff.normalize import Normalizer
from baton.compiler.schema_diff.objects import compare_objects
from baton.compiler.schema_diff.resolve import Resolver
from baton.compiler.schema_diff.scalars import (
    compare_numbers,
    compare_strings,
    compare_types,
    compare_unanalysed,
    compare_values,
)
from baton.compiler.schema_diff.shape import UNIVERSAL, Shape, Sub
from baton.compiler.schema_diff.values import NUMBER_TYPES


class Comparer:
    """Compares the old and the new schema; one per diff, it caches normal forms."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.norm = Normalizer(resolver)
        self._active: set[tuple[Shape, Shape]] = set()

    def subs(
        self, old: Sub | None, new: Sub | None, label: str, old_path: str, new_path: str
    ) -> list[SchemaChange]:
        """Changes between two subschemas (None is `true`, found at the given path)."""
        before = self.norm.shape(old) if old is not None else replace(UNIVERSAL, path=old_path)
        after = self.norm.shape(new) if new is not None else replace(UNIVERSAL, path=new_path)
        # Keyed by content, so `#` and an `items: {$ref: "#"}` below it are the same pair.
        key = (before, after)
        if key in self._active:
            return []  # met again below itself: assumed compatible (see module docstring)
        self._active.add(key)
        try:
            return self.shapes(before, after, label)
        finally:
            self._active.discard(key)

    def shapes(self, old: Shape, new: Shape, label: str) -> list[SchemaChange]:
        """Changes between two normalized schemas."""
        if old == new:
            return []  # the same constraints (equality compares content, not location)
        old_empty, new_empty = self.is_empty(old), self.is_empty(new)
        if old_empty and new_empty:
            return []
        if old_empty:
            return [
                change(
                    "FALSE_SCHEMA_REMOVED",
                    BREAKS_FORWARD,
                    old.path,
                    new.path,
                    f"{subject(label)} accepted no value before and now accepts some",
                )
            ]
        if new_empty:
            return [
                change(
                    "FALSE_SCHEMA_ADDED",
                    BREAKS_BACKWARD,
                    old.path,
                    new.path,
                    f"{subject(label)} now accepts no value (false or contradictory constraints)",
                )
            ]
        if old.choices or new.choices:
            return compare_choices(self, old, new, label)
        return self.plain(old, new, label)

    def plain(self, old: Shape, new: Shape, label: str) -> list[SchemaChange]:
        """Changes between two schemas without `anyOf` / `oneOf` left."""
        found = compare_types(old, new, label) + compare_values(old, new, label)
        common = old.types & new.types
        if common & NUMBER_TYPES:
            found += compare_numbers(old, new, label, common & NUMBER_TYPES == {"integer"})
        if "string" in common:
            found += compare_strings(old, new, label)
        if "array" in common:
            found += compare_arrays(self, old, new, label)
        if "object" in common:
            found += compare_objects(self, old, new, label)
        return found + compare_nots(self, old, new, label) + compare_unanalysed(old, new, label)

    # -- questions the comparisons ask

    def is_empty(self, shape: Shape) -> bool:
        """Whether a shape certainly accepts nothing, `not` included (X and not Y, X in Y)."""
        if shape.empty:
            return True
        if not shape.nots:
            return False
        base = replace(shape, nots=())
        return any(self.subset(base, negated) for negated in shape.nots)

    def subset(self, smaller: Shape, larger: Shape) -> bool:
        """Whether every value of `smaller` is certainly a value of `larger`."""
        return not any(BACKWARD in found.breaks for found in self.shapes(smaller, larger, ""))

    def disjoint(self, a: Shape, b: Shape) -> bool:
        """Whether no value satisfies both (False when unsure)."""
        return self.norm.disjoint(a, b)
