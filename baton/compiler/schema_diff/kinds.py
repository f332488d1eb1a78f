"""The catalogue of change kinds: a name after Confluent Schema Registry's JSON Schema
checker (`<KEYWORD>_<ACTION>`), what it means, and an example pair of schemas that
produces it (the tests diff every example and expect its kind).

Value, number, string and array kinds are here; object, combinator and "cannot see
through" kinds are in `kinds_structure`. Whether a change breaks backward or forward
compatibility is decided per change, not per kind: adding a property to an open content
model breaks backward compatibility unless its schema accepts everything, for instance.
"""

from __future__ import annotations

from baton.compiler.schema_diff.kinds_structure import (
    STRUCTURE_KINDS,
    N,
    S,
    _bounds,
    _with,
)
from baton.compiler.schema_diff.model import KindInfo

A = {"type": "array"}
_TUPLE = {"type": "array", "items": S}
_ONE = {"prefixItems": [S], "items": False, "type": "array"}

KIND_TABLE: tuple[KindInfo, ...] = (
    # -- whole schema and type
    KindInfo(
        "FALSE_SCHEMA_ADDED",
        "the schema now accepts nothing (`false` or contradictory constraints)",
        S,
        False,
    ),
    KindInfo(
        "FALSE_SCHEMA_REMOVED", "the schema accepted nothing and now accepts values", False, S
    ),
    KindInfo(
        "TYPE_EXTENDED",
        "`type` allows more types (integer is part of number)",
        {"type": "integer"},
        N,
    ),
    KindInfo(
        "TYPE_NARROWED",
        "`type` allows fewer types",
        {"type": ["integer", "string"]},
        {"type": "integer"},
    ),
    KindInfo("TYPE_CHANGED", "`type` allows different types", S, {"type": "integer"}),
    # -- enum and const
    KindInfo("ENUM_ARRAY_ADDED", "values restricted by a new `enum`", S, {"enum": ["a", "b"]}),
    KindInfo("ENUM_ARRAY_REMOVED", "`enum` restriction removed", {"enum": ["a", "b"]}, S),
    KindInfo(
        "ENUM_ARRAY_EXTENDED", "`enum` allows more values", {"enum": ["a"]}, {"enum": ["a", "b"]}
    ),
    KindInfo(
        "ENUM_ARRAY_NARROWED", "`enum` allows fewer values", {"enum": ["a", "b"]}, {"enum": ["a"]}
    ),
    KindInfo(
        "ENUM_ARRAY_CHANGED",
        "`enum` allows different values",
        {"enum": ["a", "b"]},
        {"enum": ["a", "c"]},
    ),
    KindInfo("CONST_ADDED", "value fixed by a new `const`", S, {"const": "a"}),
    KindInfo("CONST_REMOVED", "`const` removed", {"const": "a"}, S),
    KindInfo("CONST_CHANGED", "`const` changed", {"const": "a"}, {"const": "b"}),
    # -- numbers
    *_bounds("maximum", N, 10, 20),
    *_bounds("minimum", N, 10, 20),
    *_bounds("exclusiveMaximum", N, 10, 20),
    *_bounds("exclusiveMinimum", N, 10, 20),
    KindInfo("MULTIPLE_OF_ADDED", "`multipleOf` added", N, _with(N, multipleOf=2)),
    KindInfo("MULTIPLE_OF_REMOVED", "`multipleOf` removed", _with(N, multipleOf=2), N),
    KindInfo(
        "MULTIPLE_OF_EXPANDED",
        "`multipleOf` became a multiple of itself (fewer values)",
        _with(N, multipleOf=2),
        _with(N, multipleOf=4),
    ),
    KindInfo(
        "MULTIPLE_OF_REDUCED",
        "`multipleOf` became a divisor of itself (more values)",
        _with(N, multipleOf=4),
        _with(N, multipleOf=2),
    ),
    KindInfo(
        "MULTIPLE_OF_CHANGED",
        "`multipleOf` changed to an unrelated step",
        _with(N, multipleOf=2),
        _with(N, multipleOf=3),
    ),
    # -- strings
    *_bounds("maxLength", S, 3, 5),
    *_bounds("minLength", S, 3, 5),
    KindInfo("PATTERN_ADDED", "`pattern` added", S, _with(S, pattern="^a")),
    KindInfo("PATTERN_REMOVED", "`pattern` removed", _with(S, pattern="^a"), S),
    KindInfo(
        "PATTERN_CHANGED",
        "`pattern` changed (patterns are not compared as languages)",
        _with(S, pattern="^a"),
        _with(S, pattern="^b"),
    ),
    KindInfo(
        "FORMAT_ADDED", "`format` added (treated as an assertion)", S, _with(S, format="date")
    ),
    KindInfo("FORMAT_REMOVED", "`format` removed", _with(S, format="date"), S),
    KindInfo(
        "FORMAT_CHANGED", "`format` changed", _with(S, format="date"), _with(S, format="email")
    ),
    # -- arrays
    *_bounds("maxItems", A, 3, 5),
    *_bounds("minItems", A, 3, 5),
    KindInfo("UNIQUE_ITEMS_ADDED", "`uniqueItems: true` added", A, _with(A, uniqueItems=True)),
    KindInfo("UNIQUE_ITEMS_REMOVED", "`uniqueItems: true` removed", _with(A, uniqueItems=True), A),
    KindInfo("ITEMS_ADDED", "`items` now constrains items that were unconstrained", A, _TUPLE),
    KindInfo("ITEMS_REMOVED", "`items` no longer constrains items", _TUPLE, A),
    KindInfo(
        "ITEM_ADDED_TO_OPEN_CONTENT_MODEL",
        "a `prefixItems` position added where any item was allowed",
        A,
        _with(A, prefixItems=[S]),
    ),
    KindInfo(
        "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
        "a `prefixItems` position accepting anything added to an open array",
        A,
        _with(A, prefixItems=[{}]),
    ),
    KindInfo(
        "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL",
        "a `prefixItems` position added where `items: false` forbade one",
        _ONE,
        {**_ONE, "prefixItems": [S, S]},
    ),
    KindInfo(
        "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
        "a `prefixItems` position removed; any item is allowed there now",
        _with(A, prefixItems=[S]),
        A,
    ),
    KindInfo(
        "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        "a `prefixItems` position removed; `items: false` forbids it now",
        {**_ONE, "prefixItems": [S, S]},
        _ONE,
    ),
    KindInfo(
        "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "a `prefixItems` position added whose values the old `items` accepted",
        _TUPLE,
        _with(_TUPLE, prefixItems=[_with(S, maxLength=3)]),
    ),
    KindInfo(
        "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "a `prefixItems` position added with values the old `items` rejected",
        _TUPLE,
        _with(_TUPLE, prefixItems=[N]),
    ),
    KindInfo(
        "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "a `prefixItems` position removed; the new `items` accepts its values",
        _with(_TUPLE, prefixItems=[_with(S, maxLength=3)]),
        _TUPLE,
    ),
    KindInfo(
        "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "a `prefixItems` position removed; the new `items` rejects some of its values",
        _with(_TUPLE, prefixItems=[N]),
        _TUPLE,
    ),
    KindInfo("CONTAINS_ADDED", "`contains` added", A, _with(A, contains={"const": 1})),
    KindInfo("CONTAINS_REMOVED", "`contains` removed", _with(A, contains={"const": 1}), A),
    KindInfo(
        "CONTAINS_CHANGED",
        "`contains` with different counts (not analysed in detail)",
        _with(A, contains={"const": 1}),
        _with(A, contains={"const": 1}, minContains=2),
    ),
    *STRUCTURE_KINDS,
)

KINDS: dict[str, KindInfo] = {kind.name: kind for kind in KIND_TABLE}
