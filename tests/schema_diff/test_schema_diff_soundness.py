"""Soundness: when the checker calls a pair compatible, real documents agree.

Pairs are a random schema and a random edit of it (independent random pairs are almost
never compatible, which would test nothing). Whenever the checker finds no backward
break, documents generated from OLD by hypothesis-jsonschema must validate under NEW
(jsonschema's Draft 2020-12 validator), and the reverse for forward.

A second test covers 2020-12 keywords hypothesis-jsonschema cannot generate from
(`prefixItems`, `dependentRequired`, `dependentSchemas`, `minContains` / `maxContains`,
`$ref` next to other keywords): there the documents are a fixed universe of small JSON
values, and every one OLD accepts must be accepted by NEW.

The generator stays within what hypothesis-jsonschema supports and means the same in
draft-07 and 2020-12 (no `prefixItems`), and uses integer `multipleOf` only: validators
check float steps with float division (0.3 / 0.1 is not an integer there).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.internal.conjecture import utils as conjecture_utils
from hypothesis_jsonschema import _from_schema, from_schema
from hypothesis_jsonschema._canonicalise import HypothesisRefResolutionError

from baton.compiler.schema_diff import breaks_mode, diff_schemas

Schema = Any


class _LegacyMany:
    """hypothesis-jsonschema 0.23.1 drives `cu.many(...)` with `.more()` / `.reject()`;
    Hypothesis 6.15x+ replaced that with a context manager iterated by `for`. This adapter
    replays the old protocol on the new one, so object schemas generate again."""

    def __init__(self, data: Any, **sizes: Any) -> None:
        self._many = conjecture_utils.many(data, **sizes)
        self._elements: Any = None

    def more(self) -> bool:
        if self._elements is None:
            self._elements = iter(self._many.__enter__())
        try:
            next(self._elements)
        except StopIteration:
            self._many.__exit__(None, None, None)
            return False
        return True

    def reject(self) -> None:
        self._many.reject()


class _CompatUtils:
    many = _LegacyMany


if not hasattr(conjecture_utils.many, "more"):
    _from_schema.cu = _CompatUtils  # type: ignore[attr-defined]

VALUES = [0, 1, 2, -1, 2.5, "a", "b", "", True, False, None, [], [1], {}, {"a": 1}]
NAMES = ["a", "b", "c"]
PATTERNS = ["^a", "b$", "^[ab]*$", "^x-"]
TYPES = ["null", "boolean", "integer", "number", "string", "array", "object"]


def leaves() -> st.SearchStrategy[Schema]:
    small = st.integers(min_value=-3, max_value=5)
    counts = st.integers(min_value=0, max_value=3)
    numbers = st.fixed_dictionaries(
        {"type": st.sampled_from(["integer", "number"])},
        optional={
            "minimum": small,
            "maximum": small,
            "exclusiveMinimum": small,
            "exclusiveMaximum": small,
            "multipleOf": st.sampled_from([2, 3]),
        },
    )
    strings = st.fixed_dictionaries(
        {"type": st.just("string")},
        optional={"minLength": counts, "maxLength": counts, "pattern": st.sampled_from(PATTERNS)},
    )
    return st.one_of(
        st.sampled_from([True, False, {}]),
        st.builds(lambda t: {"type": t}, st.sampled_from(TYPES)),
        st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True).map(
            lambda ts: {"type": ts}
        ),
        st.lists(st.sampled_from(VALUES), min_size=1, max_size=4).map(lambda vs: {"enum": vs}),
        st.sampled_from(VALUES).map(lambda v: {"const": v}),
        numbers,
        strings,
    )


def extend(children: st.SearchStrategy[Schema]) -> st.SearchStrategy[Schema]:
    counts = st.integers(min_value=0, max_value=3)
    objects = st.fixed_dictionaries(
        {"type": st.just("object")},
        optional={
            "properties": st.dictionaries(st.sampled_from(NAMES), children, max_size=3),
            "required": st.lists(st.sampled_from(NAMES), max_size=2, unique=True),
            "additionalProperties": st.one_of(st.booleans(), children),
            "patternProperties": st.dictionaries(
                st.sampled_from(["^x-", "^b"]), children, max_size=1
            ),
            "minProperties": counts,
            "maxProperties": counts,
            "propertyNames": st.fixed_dictionaries(
                {}, optional={"maxLength": counts, "pattern": st.sampled_from(PATTERNS)}
            ),
        },
    )
    arrays = st.fixed_dictionaries(
        {"type": st.just("array")},
        optional={
            "items": children,
            "minItems": counts,
            "maxItems": counts,
            "uniqueItems": st.booleans(),
            "contains": children,
        },
    )
    combined = st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda bs: {"anyOf": bs}),
        st.lists(children, min_size=1, max_size=3).map(lambda bs: {"oneOf": bs}),
        st.lists(children, min_size=1, max_size=2).map(lambda bs: {"allOf": bs}),
        children.map(lambda c: {"not": c}),
    )
    return st.one_of(objects, arrays, combined)


schemas = st.recursive(leaves(), extend, max_leaves=5)
# A root whose property refers to a definition: a $ref without siblings, on which
# draft-07 (the generator) and 2020-12 (the validator) agree.
rooted = st.one_of(
    schemas,
    schemas.map(
        lambda s: {
            "definitions": {"d": s},
            "type": "object",
            "properties": {"r": {"$ref": "#/definitions/d"}},
        }
    ),
)


@st.composite
def edited(draw: st.DrawFn, schema: Schema, depth: int = 0) -> Schema:
    """A random edit of `schema`: keywords dropped (wider), added (narrower), nudged,
    shortened, or subschemas edited in turn."""
    if not isinstance(schema, dict) or depth > 3 or draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(st.just(copy.deepcopy(schema)), leaves(), schemas))
    result = copy.deepcopy(schema)
    for key in sorted(result):
        value = result[key]
        action = draw(st.integers(0, 5))
        if action == 0:
            del result[key]
        elif action == 1 and isinstance(value, int) and not isinstance(value, bool):
            result[key] = max(0, value + draw(st.sampled_from([-1, 1])))
        elif (
            action <= 3
            and isinstance(value, dict)
            and key in ("properties", "patternProperties", "definitions")
        ):
            result[key] = {k: draw(edited(v, depth + 1)) for k, v in value.items()}
        elif action <= 3 and isinstance(value, list) and key in ("anyOf", "oneOf", "allOf"):
            result[key] = [draw(edited(v, depth + 1)) for v in value]
        elif action <= 3 and key in (
            "items",
            "additionalProperties",
            "not",
            "contains",
            "propertyNames",
        ):
            result[key] = draw(edited(value, depth + 1))
        elif action == 4 and isinstance(value, list):
            result[key] = value[:-1] or value
    if not result or draw(st.integers(0, 2)) == 0:
        extra = draw(leaves())
        if isinstance(extra, dict):
            result.update(extra)
    return result


def _refs_resolve(schema: Schema) -> bool:
    # an edit may delete `definitions` and leave a dangling $ref the oracle cannot load
    if '"$ref"' not in json.dumps(schema):
        return True
    return isinstance(schema, dict) and "d" in schema.get("definitions", {})


@st.composite
def pairs(draw: st.DrawFn) -> tuple[Schema, Schema]:
    old = draw(rooted)
    new = draw(edited(old))
    assume(_refs_resolve(new))
    return old, new


def _check(source: Schema, target: Schema, data: st.DataObject, direction: str) -> None:
    try:
        strategy = from_schema(source)
        if strategy.is_empty:
            return
        documents = [data.draw(strategy, label=f"{direction} document") for _ in range(2)]
    except (InvalidArgument, HypothesisRefResolutionError):
        return  # hypothesis-jsonschema gives up on some contradictions and on recursion
    source_validator = jsonschema.Draft202012Validator(source)
    target_validator = jsonschema.Draft202012Validator(target)
    for document in documents:
        # hypothesis-jsonschema occasionally yields a document its schema rejects
        # (it generated null from {"type": "null", "not": {"anyOf": [{"type": "null"}]}}):
        # only documents the source really accepts say anything about the verdict.
        if not source_validator.is_valid(document):
            continue
        errors = [e.message for e in target_validator.iter_errors(document)]
        assert not errors, (
            f"checker says {direction} compatible, but {document!r} from {source!r} "
            f"is rejected by {target!r}: {errors}"
        )


@pytest.mark.filterwarnings("ignore")
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
@given(pair=pairs(), data=st.data())
def test_compatible_verdicts_hold_for_generated_documents(
    pair: tuple[Schema, Schema], data: st.DataObject
) -> None:
    old, new = pair
    changes = diff_schemas(old, new)
    if not breaks_mode(changes, "backward"):
        _check(old, new, data, "backward")
    if not breaks_mode(changes, "forward"):
        _check(new, old, data, "forward")


# -- second oracle: a fixed universe of values, for keywords hypothesis-jsonschema lacks

UNIVERSE: list[Any] = [
    *(None, True, False, 0, 1, 2, 3, -1, 0.5, 1.5, 2.5, 4, 6),
    *("", "a", "b", "ab", "x-a", "aaa", "abc"),
    *([], [0], ["a"], [0, "a"], ["a", 0], [1, 1], [1, 2, 3], [True], [[]], [{}]),
    *(["a", "b", "c"], [None], ["a", "a"], [0, 0, 0, 0]),
    *({}, {"a": 0}, {"a": "a"}, {"b": 1}, {"a": 0, "b": 1}, {"c": None}, {"x-a": "a"}),
    *({"a": {"a": 0}}, {"a": [0]}, {"a": 1, "b": "b", "c": True}, {"b": "x"}, {"bb": 2}),
    *({"r": 0}, {"r": "a"}, {"r": {"r": 1}}, {"a": None, "b": None}),
]


def extend_2020(children: st.SearchStrategy[Schema]) -> st.SearchStrategy[Schema]:
    counts = st.integers(min_value=0, max_value=3)
    names = st.lists(st.sampled_from(NAMES), max_size=2, unique=True)
    arrays = st.fixed_dictionaries(
        {"type": st.just("array")},
        optional={
            "prefixItems": st.lists(children, max_size=2),
            "items": children,
            "minItems": counts,
            "maxItems": counts,
            "contains": children,
            "minContains": counts,
            "maxContains": counts,
        },
    )
    objects = st.fixed_dictionaries(
        {"type": st.just("object")},
        optional={
            "properties": st.dictionaries(st.sampled_from(NAMES), children, max_size=2),
            "dependentRequired": st.dictionaries(st.sampled_from(NAMES), names, max_size=2),
            "dependentSchemas": st.dictionaries(st.sampled_from(NAMES), children, max_size=1),
            "patternProperties": st.dictionaries(
                st.sampled_from(["^a", "b"]), children, max_size=2
            ),
            "additionalProperties": st.one_of(st.booleans(), children),
            "required": names,
        },
    )
    # allOf branches next to a closed content model: the classic trap
    closed_all_of = st.tuples(children, children).map(
        lambda pair: {
            "allOf": list(pair),
            "type": "object",
            "additionalProperties": False,
            "properties": {"a": {}},
        }
    )
    return st.one_of(extend(children), arrays, objects, closed_all_of)


schemas_2020 = st.recursive(leaves(), extend_2020, max_leaves=6)
# $ref with sibling keywords, resolved from the root's $defs
rooted_2020 = st.one_of(
    schemas_2020,
    st.tuples(schemas_2020, leaves()).map(
        lambda pair: {
            "$defs": {"d": pair[0]},
            "properties": {
                "r": {"$ref": "#/$defs/d", **(pair[1] if isinstance(pair[1], dict) else {})}
            },
        }
    ),
)


@st.composite
def pairs_2020(draw: st.DrawFn) -> tuple[Schema, Schema]:
    old = draw(rooted_2020)
    new = draw(edited(old))
    assume(
        '"$ref"' not in json.dumps(new) or (isinstance(new, dict) and "d" in new.get("$defs", {}))
    )
    return old, new


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(pair=pairs_2020())
def test_compatible_verdicts_hold_on_a_universe_of_values(pair: tuple[Schema, Schema]) -> None:
    old, new = pair
    changes = diff_schemas(old, new)
    validators = jsonschema.Draft202012Validator(old), jsonschema.Draft202012Validator(new)
    for direction, (source, target) in (
        ("backward", validators),
        ("forward", validators[::-1]),
    ):
        if breaks_mode(changes, direction):
            continue
        for value in UNIVERSE:
            if source.is_valid(value):
                assert target.is_valid(value), (
                    f"checker says {direction} compatible, but {value!r} passes "
                    f"{source.schema!r} and fails {target.schema!r}"
                )
