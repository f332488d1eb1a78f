"""Change kinds of objects, combinators and what the checker cannot see through (the rest
of the catalogue is in `kinds`)."""

from __future__ import annotations

from collections.abc import Mapping

from baton.compiler.schema_diff.model import KindInfo

S = {"type": "string"}
N = {"type": "number"}
O = {"type": "object"}  # noqa: E741


def _with(base: Mapping[str, object], **extra: object) -> dict[str, object]:
    return {**base, **extra}


def _bounds(keyword: str, base: Mapping[str, object], low: int, high: int) -> list[KindInfo]:
    # ADDED / REMOVED / INCREASED / DECREASED of one count keyword
    name = "".join("_" + c if c.isupper() else c.upper() for c in keyword).lstrip("_")
    label = " ".join(part.lower() for part in name.split("_"))
    return [
        KindInfo(f"{name}_ADDED", f"`{keyword}` added", base, _with(base, **{keyword: low})),
        KindInfo(f"{name}_REMOVED", f"`{keyword}` removed", _with(base, **{keyword: low}), base),
        KindInfo(
            f"{name}_INCREASED",
            f"{label} increased",
            _with(base, **{keyword: low}),
            _with(base, **{keyword: high}),
        ),
        KindInfo(
            f"{name}_DECREASED",
            f"{label} decreased",
            _with(base, **{keyword: high}),
            _with(base, **{keyword: low}),
        ),
    ]


_CLOSED = {"type": "object", "additionalProperties": False}
_PARTIAL = {"type": "object", "additionalProperties": S}

STRUCTURE_KINDS: tuple[KindInfo, ...] = (
    # -- objects: required, counts, content model
    KindInfo(
        "REQUIRED_ATTRIBUTE_ADDED",
        "a declared property became required",
        _with(O, properties={"a": S}),
        _with(O, properties={"a": S}, required=["a"]),
    ),
    KindInfo(
        "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED",
        "a property with a `default` became required (validation does not fill defaults)",
        _with(O, properties={"a": _with(S, default="x")}),
        _with(O, properties={"a": _with(S, default="x")}, required=["a"]),
    ),
    KindInfo(
        "REQUIRED_ATTRIBUTE_REMOVED",
        "a property is no longer required",
        _with(O, properties={"a": S}, required=["a"]),
        _with(O, properties={"a": S}),
    ),
    *_bounds("maxProperties", O, 3, 5),
    *_bounds("minProperties", O, 3, 5),
    KindInfo(
        "ADDITIONAL_PROPERTIES_ADDED",
        "additional properties allowed again (closed content model opened)",
        _CLOSED,
        O,
    ),
    KindInfo(
        "ADDITIONAL_PROPERTIES_REMOVED",
        "additional properties forbidden (`additionalProperties: false`)",
        O,
        _CLOSED,
    ),
    KindInfo(
        "ADDITIONAL_PROPERTIES_EXTENDED", "additional properties accept more values", _PARTIAL, O
    ),
    KindInfo(
        "ADDITIONAL_PROPERTIES_NARROWED", "additional properties accept fewer values", O, _PARTIAL
    ),
    KindInfo(
        "PATTERN_PROPERTY_ADDED",
        "a `patternProperties` entry added",
        O,
        _with(O, patternProperties={"^x-": S}),
    ),
    KindInfo(
        "PATTERN_PROPERTY_REMOVED",
        "a `patternProperties` entry removed",
        _with(O, patternProperties={"^x-": S}),
        O,
    ),
    KindInfo(
        "PATTERN_PROPERTIES_CHANGED",
        "`patternProperties` changed in a way not analysed in detail",
        _with(O, patternProperties={"^a": S}),
        _with(O, patternProperties={"^b": S}),
    ),
    KindInfo(
        "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
        "a property declared where any value was allowed",
        O,
        _with(O, properties={"a": S}),
    ),
    KindInfo(
        "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
        "a property accepting anything declared in an open object",
        O,
        _with(O, properties={"a": {}}),
    ),
    KindInfo(
        "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
        "a required property added to a closed or partially open object",
        _CLOSED,
        _with(_CLOSED, properties={"a": S}, required=["a"]),
    ),
    KindInfo(
        "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL",
        "a required property with a `default` added to a closed or partially open object",
        _CLOSED,
        _with(_CLOSED, properties={"a": _with(S, default="x")}, required=["a"]),
    ),
    KindInfo(
        "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
        "an optional property added to a closed object",
        _CLOSED,
        _with(_CLOSED, properties={"a": S}),
    ),
    KindInfo(
        "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
        "a property removed from an open object; any value is allowed there now",
        _with(O, properties={"a": S}),
        O,
    ),
    KindInfo(
        "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        "a property declared `false` removed from a closed object (no effect)",
        _with(_CLOSED, properties={"a": False}),
        _CLOSED,
    ),
    KindInfo(
        "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        "a property removed from a closed object; it is forbidden now",
        _with(_CLOSED, properties={"a": S}),
        _CLOSED,
    ),
    KindInfo(
        "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "a property removed; the additional or pattern schema accepts its values",
        _with(_PARTIAL, properties={"a": _with(S, maxLength=3)}),
        _PARTIAL,
    ),
    KindInfo(
        "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "a property removed; the additional or pattern schema rejects some of its values",
        _with(_PARTIAL, properties={"a": N}),
        _PARTIAL,
    ),
    KindInfo(
        "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "a property declared whose values the old additional or pattern schema accepted",
        _PARTIAL,
        _with(_PARTIAL, properties={"a": _with(S, maxLength=3)}),
    ),
    KindInfo(
        "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "a property declared with values the old additional or pattern schema rejected",
        _PARTIAL,
        _with(_PARTIAL, properties={"a": N}),
    ),
    KindInfo(
        "DEPENDENCY_ARRAY_ADDED",
        "a `dependentRequired` entry added",
        O,
        _with(O, dependentRequired={"a": ["b"]}),
    ),
    KindInfo(
        "DEPENDENCY_ARRAY_REMOVED",
        "a `dependentRequired` entry removed",
        _with(O, dependentRequired={"a": ["b"]}),
        O,
    ),
    KindInfo(
        "DEPENDENCY_ARRAY_EXTENDED",
        "a `dependentRequired` entry requires more properties",
        _with(O, dependentRequired={"a": ["b"]}),
        _with(O, dependentRequired={"a": ["b", "c"]}),
    ),
    KindInfo(
        "DEPENDENCY_ARRAY_NARROWED",
        "a `dependentRequired` entry requires fewer properties",
        _with(O, dependentRequired={"a": ["b", "c"]}),
        _with(O, dependentRequired={"a": ["b"]}),
    ),
    KindInfo(
        "DEPENDENCY_ARRAY_CHANGED",
        "a `dependentRequired` entry requires different properties",
        _with(O, dependentRequired={"a": ["b"]}),
        _with(O, dependentRequired={"a": ["c"]}),
    ),
    KindInfo(
        "DEPENDENCY_SCHEMA_ADDED",
        "a `dependentSchemas` entry added",
        O,
        _with(O, dependentSchemas={"a": {"required": ["b"]}}),
    ),
    KindInfo(
        "DEPENDENCY_SCHEMA_REMOVED",
        "a `dependentSchemas` entry removed",
        _with(O, dependentSchemas={"a": {"required": ["b"]}}),
        O,
    ),
    # -- combinators
    KindInfo(
        "SUM_TYPE_EXTENDED",
        "an `anyOf` / `oneOf` branch added",
        {"anyOf": [{"required": ["a"]}, {"required": ["b"]}]},
        {"anyOf": [{"required": ["a"]}, {"required": ["b"]}, {"required": ["c"]}]},
    ),
    KindInfo(
        "SUM_TYPE_NARROWED",
        "an `anyOf` / `oneOf` branch removed",
        {"anyOf": [{"required": ["a"]}, {"required": ["b"]}, {"required": ["c"]}]},
        {"anyOf": [{"required": ["a"]}, {"required": ["b"]}]},
    ),
    KindInfo(
        "COMBINED_TYPE_CHANGED",
        "`anyOf` became `oneOf` (or back) and a value may match several branches",
        {"anyOf": [{"required": ["a"]}, {"required": ["b"]}]},
        {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
    ),
    KindInfo(
        "COMBINED_TYPE_SUBSCHEMAS_CHANGED",
        "`anyOf` / `oneOf` branches changed: a value may match no branch, or several `oneOf` ones",
        {"oneOf": [{"const": 1}, {"const": 2}]},
        {"oneOf": [{"const": 1}, {"enum": [1, 2]}]},
    ),
    KindInfo("NOT_TYPE_ADDED", "`not` added", O, _with(O, **{"not": {"required": ["a"]}})),
    KindInfo("NOT_TYPE_REMOVED", "`not` removed", _with(O, **{"not": {"required": ["a"]}}), O),
    KindInfo(
        "NOT_TYPE_EXTENDED",
        "the schema under `not` accepts more, so fewer values pass",
        {"not": {"required": ["a"], "properties": {"a": {"const": 1}}}},
        {"not": {"required": ["a"]}},
    ),
    KindInfo(
        "NOT_TYPE_NARROWED",
        "the schema under `not` accepts less, so more values pass",
        {"not": {"required": ["a"]}},
        {"not": {"required": ["a"], "properties": {"a": {"const": 1}}}},
    ),
    KindInfo(
        "NOT_TYPE_CHANGED",
        "the schema under `not` changed",
        {"not": {"required": ["a"]}},
        {"not": {"required": ["b"]}},
    ),
    # -- what the checker cannot see through
    KindInfo(
        "REF_UNRESOLVED",
        "a `$ref` could not be resolved (assumed to break both directions)",
        S,
        {"$ref": "#/$defs/missing"},
    ),
    KindInfo(
        "UNCHECKED_KEYWORD_CHANGED",
        "a keyword the checker does not analyse (`if`, `unevaluated*`, ...) changed, or the "
        "schemas nest too deeply; assumed to break both directions",
        {"if": {"required": ["a"]}, "then": {"required": ["b"]}},
        {"if": {"required": ["a"]}, "then": {"required": ["c"]}},
    ),
)
