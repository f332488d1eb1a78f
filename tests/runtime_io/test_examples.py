"""example_from_schema: deterministic instances that validate, checked by runtime.validate."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baton.runtime.canonical import canonical_json
from baton.runtime.examples import ExampleError, example_from_schema
from baton.runtime.validate import validate

FIXED: list[Any] = [
    True,
    {},
    {"type": "null"},
    {"type": "boolean"},
    {"const": {"a": [1, 2]}},
    {"enum": ["pass", "fail"]},
    {"type": ["null", "string"], "maxLength": 2},
    {"type": "string", "minLength": 30, "maxLength": 31},
    {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
    {"type": "string", "pattern": "^(foo|bar)+$", "minLength": 7},
    {"type": "string", "pattern": "[^abc]{2}\\d+", "maxLength": 5},
    {"type": "string", "pattern": "^\\w+@\\w+\\.com$"},
    {"type": "string", "not": {"const": "alpha"}},
    *({"type": "string", "format": fmt} for fmt in ("date-time", "date", "email", "uuid", "uri")),
    {"type": "number", "multipleOf": 0.25, "exclusiveMinimum": 1, "maximum": 2},
    {"type": "number", "multipleOf": 0.1, "minimum": 0.05, "maximum": 0.15},
    {"type": "integer", "multipleOf": 7, "minimum": 100},
    {"type": "integer", "exclusiveMaximum": -1000},
    {"type": "number", "minimum": 1e300},
    {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0}]},
    {"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]},
    {"anyOf": [{"type": "string", "maxLength": 0, "minLength": 1}, {"type": "boolean"}]},
    {
        "type": "object",
        "properties": {"kind": {"const": "a"}},
        "oneOf": [
            {"required": ["x"], "properties": {"x": {"type": "string"}}},
            {"required": ["y"], "properties": {"y": {"type": "integer"}}},
        ],
    },
    {
        "allOf": [
            {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
            {"required": ["b"], "properties": {"b": {"const": 3}}},
        ]
    },
    {
        "$defs": {
            "node": {
                "type": "object",
                "required": ["v"],
                "properties": {
                    "v": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
            }
        },
        "$ref": "#/$defs/node",
    },
    {"type": "array", "minItems": 3, "uniqueItems": True, "items": {"enum": [1, 2, 3]}},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}], "items": False},
    {"type": "array", "contains": {"const": "x"}, "minContains": 2, "items": {"type": "string"}},
    {"type": "array", "maxItems": 0},
    {"type": "object", "minProperties": 3, "additionalProperties": {"type": "integer"}},
    {
        "type": "object",
        "patternProperties": {"^x-": {"type": "integer"}},
        "required": ["x-a"],
        "additionalProperties": False,
    },
    {"type": "object", "properties": {"a b/c~d": {"type": "string"}}, "required": ["a b/c~d"]},
    {
        "type": "object",
        "required": ["summary"],
        "additionalProperties": False,
        "properties": {
            "summary": {"type": "string", "minLength": 1},
            "sources": {"type": "array", "items": {"type": "string"}},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
    },
]


@pytest.mark.parametrize("schema", FIXED, ids=lambda s: canonical_json(s).decode()[:60])
def test_fixed_schemas(schema: Any) -> None:
    for seed in (0, 1, 7, 2**40 + 3):
        value = example_from_schema(schema, seed)
        assert validate(schema, value) == [], value
        assert example_from_schema(schema, seed) == value  # deterministic


def test_optional_properties_are_filled_for_demo_outputs() -> None:
    value = example_from_schema(FIXED[-1], seed=3)
    assert set(value) == {"summary", "sources", "confidence"}
    assert 0 <= value["confidence"] <= 1


def test_seeds_vary_the_example() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "s": {"type": "string"}}}
    assert len({canonical_json(example_from_schema(schema, seed)) for seed in range(10)}) > 1


@pytest.mark.parametrize(
    "schema",
    [
        False,
        {"type": "integer", "minimum": 5, "maximum": 4},
        {"allOf": [{"type": "string"}, {"type": "integer"}]},
        {"$ref": "#/$defs/missing"},
        {"oneOf": [{"type": "integer"}, {"type": "integer"}]},
    ],
)
def test_unsatisfiable_schemas_raise(schema: Any) -> None:
    with pytest.raises(ExampleError, match=r"cannot derive|invalid JSON Schema"):
        example_from_schema(schema)


# -- generated schemas: every example validates

names = st.sampled_from(["a", "b", "summary", "sources", "x-y", "n", "weird key/~"])
patterns = st.sampled_from(
    ["^[a-z]+$", "^[A-Z]{2,4}-\\d{2}$", "^(yes|no)$", "\\d", "^x*$", "^[0-9a-f]{8}$", "^a.c$"]
)
scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3)


@st.composite
def integer_schemas(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.integers(-1000, 1000))
    step = draw(st.sampled_from([None, 1, 2, 5]))
    span = draw(st.integers(step or 0, 50))
    schema: dict[str, Any] = {"type": "integer", "minimum": low, "maximum": low + span}
    if step:
        schema["multipleOf"] = step
    return schema


@st.composite
def number_schemas(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.floats(-1e6, 1e6))
    schema: dict[str, Any] = {"type": "number", "exclusiveMinimum": low}
    if draw(st.booleans()):
        # wider than the largest multipleOf, so some multiple lies strictly inside
        schema["exclusiveMaximum"] = low + draw(st.floats(7.0, 100.0))
    if draw(st.booleans()):
        schema["multipleOf"] = draw(st.sampled_from([0.5, 0.25, 0.1, 3]))
    return schema


@st.composite
def string_schemas(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"type": "string", "pattern": draw(patterns)}
    shortest = draw(st.integers(0, 10))
    return {
        "type": "string",
        "minLength": shortest,
        "maxLength": shortest + draw(st.integers(0, 20)),
    }


leaves = st.one_of(
    integer_schemas(),
    number_schemas(),
    string_schemas(),
    st.lists(scalars, min_size=1, max_size=4, unique_by=canonical_json).map(lambda e: {"enum": e}),
    scalars.map(lambda c: {"const": c}),
    st.sampled_from([{"type": "boolean"}, {"type": "null"}, {}]),
)


@st.composite
def objects(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    properties = draw(st.dictionaries(names, children, max_size=4))
    required = [name for name in properties if draw(st.booleans())]
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": draw(st.booleans()),
    }


@st.composite
def arrays(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    at_least = draw(st.integers(0, 3))
    return {
        "type": "array",
        "items": draw(children),
        "minItems": at_least,
        "maxItems": at_least + draw(st.integers(0, 3)),
    }


@st.composite
def tagged_one_of(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    # a const tag per branch: exactly one branch can match
    bodies = draw(st.lists(children, min_size=1, max_size=3))
    return {
        "oneOf": [
            {
                "type": "object",
                "required": ["kind", "body"],
                "properties": {"kind": {"const": f"k{n}"}, "body": body},
            }
            for n, body in enumerate(bodies)
        ]
    }


@st.composite
def all_of(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    first, second = draw(children), draw(children)
    return {
        "allOf": [
            {"type": "object", "required": ["p"], "properties": {"p": first}},
            {"type": "object", "required": ["q"], "properties": {"q": second}},
        ]
    }


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    any_of = st.lists(children, min_size=1, max_size=3).map(lambda subs: {"anyOf": subs})
    return (
        objects(children) | arrays(children) | tagged_one_of(children) | all_of(children) | any_of
    )


bodies = st.recursive(leaves, containers, max_leaves=8)


@st.composite
def root_schemas(draw: st.DrawFn) -> Any:
    body = draw(bodies)
    if not draw(st.booleans()):
        return body
    # the same subschema through $ref from two places
    return {
        "$defs": {"shared": body},
        "type": "object",
        "required": ["first"],
        "properties": {
            "first": {"$ref": "#/$defs/shared"},
            "list": {"type": "array", "items": {"$ref": "#/$defs/shared"}},
        },
    }


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(root_schemas(), st.integers(0, 2**48))
def test_generated_schemas_get_valid_examples(schema: Any, seed: int) -> None:
    value = example_from_schema(schema, seed)
    assert validate(schema, value) == []
    assert canonical_json(example_from_schema(schema, seed)) == canonical_json(value)


def test_pattern_examples_match() -> None:
    for pattern in ["^[a-z]+$", "^(yes|no)$", "^[0-9a-f]{8}$", "^a.c$", "x{3,}y?"]:
        value = example_from_schema({"type": "string", "pattern": pattern})
        assert re.search(pattern, value), (pattern, value)
