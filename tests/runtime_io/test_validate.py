"""Handoff validation: exact 2020-12 semantics, every error with its JSON pointer."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baton.runtime.validate import (
    SchemaError,
    ValidationIssue,
    cache_size,
    clear_cache,
    validate,
    validator,
)

BRIEF = {
    "type": "object",
    "required": ["summary"],
    "additionalProperties": False,
    "properties": {
        "summary": {"type": "string", "minLength": 1},
        "sources": {"type": "array", "items": {"type": "string"}},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
}


def test_valid_instance_has_no_issues() -> None:
    assert validate(BRIEF, {"summary": "s", "sources": ["a"], "confidence": 1}) == []


def test_every_error_with_its_pointer_sorted() -> None:
    issues = validate(BRIEF, {"sources": ["a", 2, None], "confidence": 3, "extra": 1})
    assert [issue.pointer for issue in issues] == [
        "",
        "",
        "/confidence",
        "/sources/1",
        "/sources/2",
    ]
    assert issues[2] == ValidationIssue("/confidence", "3 is greater than the maximum of 1")
    assert issues[3].message == '2 is not of type "string"'
    assert any("summary" in issue.message for issue in issues[:2])
    assert any("extra" in issue.message for issue in issues[:2])


def test_pointer_escapes_slash_and_tilde() -> None:
    schema = {"properties": {"a/b": {"properties": {"c~d": {"type": "integer"}}}}}
    assert validate(schema, {"a/b": {"c~d": "x"}}) == [
        ValidationIssue("/a~1b/c~0d", '"x" is not of type "integer"')
    ]


def test_draft_2020_12_semantics() -> None:
    # prefixItems and $defs/$ref exist only in 2020-12; with no "$schema" it is still 2020-12
    schema = {
        "$defs": {"name": {"type": "string"}},
        "type": "array",
        "prefixItems": [{"$ref": "#/$defs/name"}, {"type": "integer"}],
        "items": False,
    }
    assert validate(schema, ["a", 1]) == []
    assert [i.pointer for i in validate(schema, [1, 1, 3])] == ["/0", "/2"]


def test_long_messages_are_shortened() -> None:
    [issue] = validate({"type": "integer"}, "x" * 10_000)
    assert len(issue.message) <= 400


def test_validators_are_compiled_once_per_distinct_schema() -> None:
    clear_cache()
    first = validator({"type": "object", "required": ["a"]})
    # an equal schema built separately, keys in another order: the same validator
    assert validator({"required": ["a"], "type": "object"}) is first
    assert cache_size() == 1
    validator({"type": "string"})
    assert cache_size() == 2


def test_identity_cache_stays_correct_when_ids_are_reused() -> None:
    for n in range(200):  # fresh dicts whose ids the allocator recycles
        assert validate({"maximum": n}, n) == []
        assert validate({"maximum": n}, n + 1) != []


def test_invalid_schema_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="invalid JSON Schema"):
        validate({"type": "no-such-type"}, 1)


def test_remote_references_are_never_fetched() -> None:
    with pytest.raises(SchemaError):
        validate({"$ref": "https://example.com/schema.json"}, 1)


SCHEMAS: list[Any] = [
    BRIEF,
    {"type": "array", "items": {"type": "integer", "multipleOf": 3}, "maxItems": 3},
    {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "boolean"}]},
    {"type": "object", "patternProperties": {"^x": {"type": "null"}}, "minProperties": 1},
    {"enum": [1, "a", None, [1]]},
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=10,
)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(SCHEMAS), json_values)
def test_agrees_with_the_jsonschema_library(schema: Any, value: Any) -> None:
    oracle = jsonschema.Draft202012Validator(schema).is_valid(value)
    assert (validate(schema, value) == []) == oracle


def test_multiple_of_uses_exact_arithmetic() -> None:
    # exactly 3 x 27110390311488528; jsonschema_rs alone calls it not a multiple of 3
    assert validate({"multipleOf": 3}, 8.133117093446558e16) == []
    assert [i.pointer for i in validate({"multipleOf": 3}, 7)] == [""]
