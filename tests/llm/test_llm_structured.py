"""The handoff schema as output contract: OpenAI's strict subset, wrapping, names."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baton.runtime.llm import output_contract, strict_problems
from baton.runtime.llm.structured import (
    anthropic_tool,
    openai_response_format,
    output_name,
    provider_schema,
    subset_problems,
)

STRICT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["summary", "sources", "confidence", "when", "kind", "next"],
    "properties": {
        "summary": {"type": "string", "description": "one paragraph", "pattern": "^[A-Z]"},
        "sources": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["url"],
                "properties": {"url": {"type": "string", "format": "uri"}},
            },
        },
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "when": {"type": ["string", "null"], "format": "date"},
        "kind": {"enum": ["report", "note"]},
        "next": {"anyOf": [{"$ref": "#/$defs/step"}, {"type": "null"}]},
    },
    "$defs": {
        "step": {
            "type": "object",
            "additionalProperties": False,
            "required": ["title"],
            "properties": {"title": {"type": "string"}},
        }
    },
}


def test_a_schema_inside_the_subset_has_no_problems_but_its_format() -> None:
    assert strict_problems(STRICT) == [
        "/properties/sources/items/properties/url: format 'uri' is not supported in strict mode"
    ]
    fixed = dict(STRICT)
    fixed["properties"] = {
        **STRICT["properties"],
        "sources": {"type": "array", "items": {"type": "string"}},
    }
    assert strict_problems(fixed) == []
    assert output_contract(fixed).strict


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        (
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            '(root): an object needs "additionalProperties": false',
        ),
        (
            {
                "type": "object",
                "additionalProperties": False,
                "properties": {"a": {}, "b": {}},
                "required": ["a"],
            },
            "(root): every property must be required (not required: 'b')",
        ),
        (
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["a"],
                "properties": {"a": {"type": "string", "maxLength": 9}},
            },
            "/properties/a: 'maxLength' is not supported in strict mode",
        ),
        (
            {"type": "object", "additionalProperties": {"type": "string"}},
            '(root): an object needs "additionalProperties": false',
        ),
        (
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["a"],
                "properties": {"a": {"oneOf": [{"type": "string"}]}},
            },
            "/properties/a: 'oneOf' is not supported in strict mode",
        ),
        (
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["a"],
                "properties": {"a": {"$ref": "#/$defs/x", "description": "d"}},
                "$defs": {"x": {"type": "string"}},
            },
            "/properties/a: '$ref' must stand alone (it has sibling keywords)",
        ),
        (
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["a"],
                "properties": {"a": {"$ref": "other.json"}},
            },
            "/properties/a: only local '$ref's (starting with '#') are supported",
        ),
        (
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["a"],
                "properties": {"a": True},
            },
            "/properties/a: a boolean schema (true) is not supported",
        ),
        (
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["a"],
                "properties": {"a": {"type": "string", "default": "x"}},
            },
            "/properties/a: 'default' is not supported in strict mode",
        ),
        (
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["a/b"],
                "properties": {"a/b": {"type": "set"}},
            },
            "/properties/a~1b: type 'set' is not supported in strict mode",
        ),
    ],
)
def test_each_departure_from_the_subset_is_named_with_its_pointer(
    schema: Any, problem: str
) -> None:
    assert problem in strict_problems(schema)


def test_the_limits_of_the_subset() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(11):
        deep = {
            "type": "object",
            "additionalProperties": False,
            "required": ["a"],
            "properties": {"a": deep},
        }
    assert "(root): objects nested 11 deep, more than 10" in strict_problems(deep)
    many = {
        "type": "object",
        "additionalProperties": False,
        "required": ["a"],
        "properties": {"a": {"enum": list(range(1001))}},
    }
    assert "(root): 1001 enum values, more than 1000" in strict_problems(many)


def test_baton_annotations_are_not_sent_and_do_not_cost_strictness() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["x-note"],
        "properties": {"x-note": {"type": "string", "x-baton-trust": "untrusted"}},
    }
    contract = output_contract(schema, "note@1")
    assert contract.strict
    assert contract.schema == {
        "type": "object",
        "additionalProperties": False,
        "required": ["x-note"],  # a property named x-... is data, not an annotation
        "properties": {"x-note": {"type": "string"}},
    }
    assert schema["properties"]["x-note"]["x-baton-trust"] == "untrusted"  # not mutated


def test_a_non_object_root_is_wrapped_with_its_definitions_hoisted() -> None:
    schema = {
        "type": "array",
        "items": {"$ref": "#/$defs/item"},
        "$defs": {"item": {"type": "string"}},
    }
    contract = output_contract(schema)
    assert contract.wrapped and contract.pointer_prefix == "/output"
    assert contract.schema == {
        "type": "object",
        "$defs": {"item": {"type": "string"}},
        "properties": {"output": {"type": "array", "items": {"$ref": "#/$defs/item"}}},
        "required": ["output"],
        "additionalProperties": False,
    }
    assert contract.strict
    assert contract.unwrap({"output": ["a"]}) == (["a"], None)
    assert contract.unwrap(["a"]) == (
        None,
        "the reply has no 'output' field (the answer goes in it)",
    )
    # the root rules still apply to what is sent unwrapped
    assert "(root): the root must not be an anyOf" in subset_problems(
        {"type": "object", "anyOf": []}
    )


def test_the_request_shapes() -> None:
    contract = output_contract(STRICT, "brief@2")
    assert openai_response_format(contract) == {
        "type": "json_schema",
        "json_schema": {"name": "brief_2", "schema": contract.schema, "strict": False},
    }
    tool, choice = anthropic_tool(contract)
    assert (tool["name"], tool["input_schema"]) == ("brief_2", contract.schema)
    assert choice == {"type": "tool", "name": "brief_2"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("brief@2", "brief_2"), ("résumé v1", "r_sum_v1"), ("@@", "output"), ("a" * 80, "a" * 64)],
)
def test_names_fit_both_apis(name: str, expected: str) -> None:
    assert output_name(name) == expected


# -- property: the checker agrees with a direct recursive reading of OpenAI's rules

DOC_TYPES = ["string", "number", "integer", "boolean", "object", "array", "null"]
DOC_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum",
    "const", "$ref", "$defs", "definitions", "title", "description", "pattern", "format",
    "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "minItems",
    "maxItems",
}  # fmt: skip
DOC_FORMATS = {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}


def oracle(schema: Any) -> bool:
    """OpenAI's documented subset, read literally: root an object, not anyOf; then every
    subschema fine."""
    return (
        isinstance(schema, dict)
        and schema.get("type") == "object"
        and "anyOf" not in schema
        and fine(schema)
    )


def fine(node: Any) -> bool:
    if not isinstance(node, dict) or not set(node) <= DOC_KEYWORDS:
        return False
    if "$ref" in node and (len(node) > 1 or not str(node["$ref"]).startswith("#")):
        return False
    declared = node.get("type")
    types = declared if isinstance(declared, list) else [declared] if "type" in node else []
    if "type" in node and (not types or any(t not in DOC_TYPES for t in types)):
        return False
    if "object" in types or "properties" in node:
        if node.get("additionalProperties") is not False:
            return False
        if set(node.get("properties", {})) - set(node.get("required", [])):
            return False
    elif node.get("additionalProperties", False) is not False:
        return False
    if "format" in node and node["format"] not in DOC_FORMATS:
        return False
    children = [*node.get("properties", {}).values(), *node.get("$defs", {}).values()]
    children += node.get("anyOf", [])
    if "items" in node:
        if isinstance(node["items"], list):
            return False
        children.append(node["items"])
    return all(fine(child) for child in children)


NAMES = st.sampled_from(["a", "b", "c", "x-id"])
EXTRAS = st.dictionaries(
    st.sampled_from(["description", "minLength", "format", "default", "pattern", "title"]),
    st.sampled_from(["date", "uri", "^a", 1]),
    max_size=1,
)
PLAIN = st.builds(lambda t: {"type": t}, st.sampled_from(DOC_TYPES))
LEAVES = st.one_of(
    PLAIN,
    PLAIN,
    PLAIN,
    st.booleans(),
    st.builds(lambda t, extra: {"type": t, **extra}, st.sampled_from([*DOC_TYPES, "set"]), EXTRAS),
    st.builds(lambda ref: {"$ref": ref}, st.sampled_from(["#", "#/$defs/a", "x.json"])),
    st.just({"$ref": "#", "description": "again"}),
    st.just({"enum": ["x", "y"]}),
)


@st.composite
def objects(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    properties = draw(st.dictionaries(NAMES, children, max_size=3))
    node: dict[str, Any] = {"type": draw(st.sampled_from(["object", ["object", "null"]]))}
    node["properties"] = properties
    # mostly within the rules, so that both answers are common
    node["required"] = draw(st.sampled_from([sorted(properties)] * 4 + [sorted(properties)[1:]]))
    choice = draw(st.sampled_from(["false"] * 5 + ["true", "schema", "absent"]))
    if choice != "absent":
        node["additionalProperties"] = {"false": False, "true": True, "schema": {}}[choice]
    return node


SCHEMAS = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        objects(children),
        st.builds(lambda items: {"type": "array", "items": items}, children),
        st.builds(lambda branches: {"anyOf": branches}, st.lists(children, min_size=1, max_size=3)),
    ),
    max_leaves=12,
)


@settings(max_examples=400)
@given(st.one_of(SCHEMAS, objects(SCHEMAS)))
def test_the_checker_agrees_with_the_documented_rules(schema: Any) -> None:
    assert (subset_problems(schema) == []) == oracle(schema)


@settings(max_examples=200)
@given(SCHEMAS)
def test_the_sent_schema_never_keeps_an_annotation(schema: Any) -> None:
    def annotated(node: Any) -> dict[str, Any]:
        return {**node, "x-baton-trust": "untrusted"} if isinstance(node, dict) else node

    assert provider_schema(annotated(schema)) == provider_schema(schema)
