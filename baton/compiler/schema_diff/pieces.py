"""One schema object's own keywords as a `Shape` (no `$ref`, `allOf`, `anyOf`, `oneOf`, `not`:
the normalizer expands those)."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

from baton.compiler.schema_diff.resolve import Loc
from baton.compiler.schema_diff.shape import (
    Bound,
    Contains,
    Dependency,
    Mark,
    ObjGroup,
    Shape,
    Sub,
    tighter_lower,
    tighter_upper,
)
from baton.compiler.schema_diff.values import TYPE_ATOMS, canonical, exact

# Validation keywords the checker does not analyse: a change to them is reported as
# breaking both directions. `unevaluated*` and `$dynamicRef` depend on the whole schema
# around them, so they are keyed by the content of the schema object holding them.
_WHOLE_OBJECT_OPAQUE = ("unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef")


def _count(value: object, ceil: bool) -> Fraction | None:
    number = exact(value)
    if number is None or number < 0:
        return None  # null (how converters write Infinity) or invalid: no limit
    return Fraction(math.ceil(number) if ceil else math.floor(number))


class PieceReader:
    """Reads the keywords of one schema object at `loc` into a Shape."""

    def __init__(
        self,
        sub_at: Callable[[Loc], Sub],
        display: Callable[[Loc], str],
        content: Callable[[Loc], str],
    ) -> None:
        self._sub_at = sub_at
        self._display = display
        self._content = content

    def read(self, raw: dict[str, object], loc: Loc) -> Shape:
        """The shape of the keywords written directly in `raw`."""
        here = self._display(loc)
        fields: dict[str, object] = {"path": here}
        opaque: list[Mark] = []

        def at(keyword: str) -> str:
            return f"{here}/{keyword}"

        if "type" in raw:
            names = raw["type"] if isinstance(raw["type"], list) else [raw["type"]]
            if all(isinstance(n, str) and n in TYPE_ATOMS for n in names):
                fields["types"] = frozenset().union(*(TYPE_ATOMS[str(n)] for n in names))
                fields["type_pointer"] = at("type")
            else:
                opaque.append(Mark(("type", canonical(raw["type"])), at("type")))
        for keyword in ("enum", "const"):
            if keyword == "const" and keyword in raw:
                keys = frozenset({canonical(raw["const"])})
            elif keyword == "enum" and isinstance(listed := raw.get("enum"), list):
                keys = frozenset(canonical(v) for v in listed)
            else:
                continue
            before = fields.get("values")
            fields["values"] = keys if before is None else keys & before  # type: ignore[operator]
            fields["values_keyword"], fields["values_pointer"] = keyword, at(keyword)
        self._numbers(raw, fields, at)
        self._counts(raw, fields, at)
        for keyword, name in (("pattern", "patterns"), ("format", "formats")):
            if isinstance(raw.get(keyword), str):
                fields[name] = (Mark(raw[keyword], at(keyword)),)
        self._arrays(raw, loc, fields, at)
        self._objects(raw, loc, fields, at)
        if "if" in raw:
            bundle = {k: raw[k] for k in ("if", "then", "else") if k in raw}
            opaque.append(Mark(("if", canonical(bundle)), at("if")))
        for keyword in _WHOLE_OBJECT_OPAQUE:
            if keyword in raw and raw[keyword] is not True:
                opaque.append(Mark((keyword, self._content(loc)), at(keyword)))
        if opaque:
            fields["opaque"] = tuple(opaque)
        return Shape(**fields)  # type: ignore[arg-type]

    def _numbers(
        self, raw: dict[str, object], fields: dict[str, object], at: Callable[[str], str]
    ) -> None:
        # draft-04 wrote exclusiveness as a boolean flag next to minimum / maximum
        lower: Bound | None = None
        upper: Bound | None = None
        for keyword, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            value = exact(raw.get(keyword))
            if value is None:
                continue
            exclusive = raw.get(flag) is True
            bound = Bound(value, exclusive, flag if exclusive else keyword, at(keyword))
            if keyword == "minimum":
                lower = bound
            else:
                upper = bound
        low = exact(raw.get("exclusiveMinimum"))
        if low is not None:
            lower = tighter_lower(
                lower, Bound(low, True, "exclusiveMinimum", at("exclusiveMinimum"))
            )
        high = exact(raw.get("exclusiveMaximum"))
        if high is not None:
            upper = tighter_upper(
                upper, Bound(high, True, "exclusiveMaximum", at("exclusiveMaximum"))
            )
        if lower is not None:
            fields["lower"] = lower
        if upper is not None:
            fields["upper"] = upper
        step = exact(raw.get("multipleOf"))
        if step is not None and step > 0:
            fields["multiple_of"] = (Bound(step, False, "multipleOf", at("multipleOf")),)

    def _counts(
        self, raw: dict[str, object], fields: dict[str, object], at: Callable[[str], str]
    ) -> None:
        for keyword, name in (
            ("minLength", "min_length"),
            ("maxLength", "max_length"),
            ("minItems", "min_items"),
            ("maxItems", "max_items"),
            ("minProperties", "min_props"),
            ("maxProperties", "max_props"),
        ):
            value = _count(raw.get(keyword), ceil=keyword.startswith("min"))
            if value is not None:
                fields[name] = Bound(value, False, keyword, at(keyword))

    def _arrays(
        self, raw: dict[str, object], loc: Loc, fields: dict[str, object], at: Callable[[str], str]
    ) -> None:
        items = raw.get("items")
        if isinstance(raw.get("prefixItems"), list):
            count = len(raw["prefixItems"])  # type: ignore[arg-type]
            fields["prefix"] = tuple(
                self._sub_at(loc.child("prefixItems", i)) for i in range(count)
            )
        elif isinstance(items, list):  # draft-07 tuple form
            fields["prefix"] = tuple(self._sub_at(loc.child("items", i)) for i in range(len(items)))
            if "additionalItems" in raw and raw["additionalItems"] is not True:
                fields["rest"] = self._sub_at(loc.child("additionalItems"))
        if isinstance(items, dict) or items is False:
            fields["rest"] = self._sub_at(loc.child("items"))
        if raw.get("uniqueItems") is True:
            fields["unique"] = Mark(True, at("uniqueItems"))
        if "contains" in raw:
            low = _count(raw.get("minContains", 1), ceil=True)
            high = _count(raw.get("maxContains"), ceil=False)
            fields["contains"] = (
                Contains(
                    self._sub_at(loc.child("contains")),
                    int(low if low is not None else 1),
                    int(high) if high is not None else None,
                    at("contains"),
                ),
            )

    def _objects(
        self, raw: dict[str, object], loc: Loc, fields: dict[str, object], at: Callable[[str], str]
    ) -> None:
        props = raw.get("properties")
        patterns = raw.get("patternProperties")
        extra = raw.get("additionalProperties")
        if isinstance(props, dict) or isinstance(patterns, dict) or isinstance(extra, dict | bool):
            fields["objects"] = (
                ObjGroup(
                    properties=tuple(
                        (str(name), self._sub_at(loc.child("properties", str(name))))
                        for name in sorted(props)
                    )
                    if isinstance(props, dict)
                    else (),
                    patterns=tuple(
                        (str(p), self._sub_at(loc.child("patternProperties", str(p))))
                        for p in sorted(patterns)
                    )
                    if isinstance(patterns, dict)
                    else (),
                    additional=self._sub_at(loc.child("additionalProperties"))
                    if isinstance(extra, dict) or extra is False
                    else None,
                    pointer=self._display(loc),
                ),
            )
        required = raw.get("required")
        if isinstance(required, list):
            names = sorted({n for n in required if isinstance(n, str)})
            fields["required"] = tuple(Mark(n, at("required")) for n in names)
        if "propertyNames" in raw:
            fields["property_names"] = self._sub_at(loc.child("propertyNames"))
        dep_required: list[Dependency] = []
        dep_schemas: list[tuple[str, Sub]] = []
        for keyword in ("dependentRequired", "dependentSchemas", "dependencies"):
            table = raw.get(keyword)
            if not isinstance(table, dict):
                continue
            for name in sorted(table):
                value = table[name]
                if isinstance(value, list):
                    needed = frozenset(str(v) for v in value)
                    dep_required.append(Dependency(str(name), needed, at(keyword)))
                elif keyword != "dependentRequired":
                    dep_schemas.append((str(name), self._sub_at(loc.child(keyword, str(name)))))
        if dep_required:
            fields["dep_required"] = tuple(dep_required)
        if dep_schemas:
            fields["dep_schemas"] = tuple(dep_schemas)
