"""From raw schemas to `Shape`s: expand `$ref` and `allOf`, push `not` inwards, simplify
`anyOf` / `oneOf`, and drop what is infeasible.

Normalizing one schema never normalizes the schemas below its properties or items (they
stay `Sub`s), except where feasibility asks whether a required property can exist; so a
recursive schema unfolds one level per comparison step and terminates.
"""

from __future__ import annotations

from dataclasses import replace

from baton.compiler.schema_diff.combine import simplify_choice
from baton.compiler.schema_diff.disjoint import disjoint
from baton.compiler.schema_diff.feasible import finish
from baton.compiler.schema_diff.pieces import PieceReader
from baton.compiler.schema_diff.resolve import Loc, Resolver
from baton.compiler.schema_diff.shape import (
    UNIVERSAL,
    Choice,
    Mark,
    Shape,
    Sub,
    empty_shape,
    intersect,
    is_type_only,
    is_universal,
)
from baton.compiler.schema_diff.values import ALL_TYPES

# Keywords that never change which values a schema accepts.
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$anchor",
        "$dynamicAnchor",
        "$comment",
        "$defs",
        "definitions",
        "$vocabulary",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
    }
)
_MAX_NEGATION_DEPTH = 8


class Normalizer:
    """Normalizes subschemas, caching by location and guarding against cycles."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._reader = PieceReader(self.sub_at, resolver.display, resolver.content_key)
        self._cache: dict[tuple[Loc, ...], Shape] = {}
        self._active: set[tuple[Loc, ...]] = set()

    # -- subschemas

    def sub_at(self, loc: Loc) -> Sub:
        """The subschema written at one location."""
        return Sub((loc,), (self.resolver.content_key(loc),), self.resolver.display(loc))

    def shape(self, sub: Sub) -> Shape:
        """The normal form of a subschema."""
        key = sub.locs
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if key in self._active:
            # A schema that contains itself without going through a property or an item
            # (anyOf -> $ref -> itself): not analysed.
            return Shape(path=sub.path, opaque=(Mark(("cycle", *sub.key), sub.path),))
        self._active.add(key)
        try:
            result = self._build(sub)
        finally:
            self._active.discard(key)
        self._cache[key] = result
        return result

    def is_empty(self, sub: Sub) -> bool:
        """Whether a subschema certainly accepts nothing (False while it is being built)."""
        if sub.locs in self._active:
            return False
        return self.shape(sub).empty

    def disjoint(self, a: Shape, b: Shape) -> bool:
        """Whether no value satisfies both shapes (False when unsure)."""
        return disjoint(a, b, self.shape)

    # -- building

    def _build(self, sub: Sub) -> Shape:
        shape = replace(UNIVERSAL, path=sub.path)
        queue = list(sub.locs)
        seen: set[Loc] = set()
        while queue:
            loc = queue.pop(0)
            if loc in seen:
                continue  # allOf through a cycle: A and A is A
            seen.add(loc)
            raw = self.resolver.value(loc)
            if raw is True:
                continue
            if raw is False:
                return empty_shape(sub.path)
            if not isinstance(raw, dict):  # not a schema at all: not analysed
                where = self.resolver.display(loc)
                shape = intersect(shape, Shape(opaque=(Mark(("invalid", where), where),)))
                continue
            shape = intersect(shape, self._reader.read(raw, loc))
            if isinstance(raw.get("allOf"), list) and loc.omit != "allOf":
                queue.extend(loc.child("allOf", index) for index in range(len(raw["allOf"])))
            if "$ref" in raw and isinstance(raw["$ref"], str):
                target = self.resolver.follow(loc, raw["$ref"])
                if target is None:
                    where = self.resolver.display(loc.child("$ref"))
                    shape = replace(shape, unresolved=(*shape.unresolved, Mark(raw["$ref"], where)))
                else:
                    queue.append(target)
            for keyword in ("anyOf", "oneOf"):
                if isinstance(raw.get(keyword), list) and loc.omit != keyword:
                    shape = intersect(shape, self._choice(loc, keyword, raw[keyword], sub.path))
            if isinstance(raw.get("not"), dict | bool):
                negated = self._negate(loc.child("not"), 0)
                if isinstance(negated, Shape):
                    shape = intersect(shape, negated)
                else:
                    queue.extend(negated)
        return finish(shape, self.is_empty)

    def _choice(self, loc: Loc, keyword: str, branches: list[object], path: str) -> Shape:
        parts = []
        for index in range(len(branches)):
            where = loc.child(keyword, index)
            parts.append((self.shape(self.sub_at(where)), self.resolver.display(where)))
        pointer = self.resolver.display(loc.child(keyword))
        return simplify_choice(keyword, parts, pointer, path, self.disjoint)

    # -- negation

    def _negate(self, loc: Loc, depth: int) -> Shape | list[Loc]:
        """`not` at `loc`, as a shape, or as locations to merge (`not: {not: X}` is X)."""
        raw = self.resolver.value(loc)
        path = self.resolver.display(loc)
        if isinstance(raw, dict) and depth < _MAX_NEGATION_DEPTH:
            keys = set(raw) - _ANNOTATIONS
            if keys == {"not"}:
                return [loc.child("not")]
            if keys == {"$ref"} and isinstance(raw["$ref"], str):
                target = self.resolver.follow(loc, raw["$ref"])
                if target is not None:
                    return self._negate(target, depth + 1)
            if keys == {"anyOf"} and isinstance(raw["anyOf"], list):
                # not (A or B) = not A and not B
                result = replace(UNIVERSAL, path=path)
                for index in range(len(raw["anyOf"])):
                    result = intersect(
                        result,
                        self._as_shape(self._negate(loc.child("anyOf", index), depth + 1), path),
                    )
                return result
            if isinstance(raw.get("allOf"), list) and raw["allOf"]:
                # not (A and B) = not A or not B, one branch per part of the schema
                parts = [loc.child("allOf", i) for i in range(len(raw["allOf"]))]
                if keys - {"allOf"}:
                    parts.insert(0, Loc(loc.doc, loc.pointer, omit="allOf"))
                if len(parts) > 1:
                    negated = [
                        (self._as_shape(self._negate(p, depth + 1), path), path) for p in parts
                    ]
                    return simplify_choice("anyOf", negated, path, path, self.disjoint)
        return self._negated_shape(self.shape(self.sub_at(loc)), path)

    def _as_shape(self, negated: Shape | list[Loc], path: str) -> Shape:
        if isinstance(negated, Shape):
            return negated
        return self.shape(
            Sub(
                tuple(negated), tuple(sorted(self.resolver.content_key(at) for at in negated)), path
            )
        )

    def _negated_shape(self, inner: Shape, path: str) -> Shape:
        if inner.empty:
            return replace(UNIVERSAL, path=path)
        if is_universal(inner):
            return empty_shape(path)
        if is_type_only(inner):
            return Shape(path=path, types=ALL_TYPES - inner.types, type_pointer=path)
        if len(inner.nots) == 1 and replace(inner, nots=()) == UNIVERSAL:
            return inner.nots[0]
        if len(inner.choices) == 1 and replace(inner, choices=()) == UNIVERSAL:
            choice: Choice = inner.choices[0]
            if choice.keyword == "anyOf":
                result = replace(UNIVERSAL, path=path)
                for branch in choice.branches:
                    result = intersect(result, self._negated_shape(branch, path))
                return result
        return Shape(path=path, nots=(inner,))
