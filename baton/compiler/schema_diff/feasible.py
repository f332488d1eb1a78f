"""Feasibility: drop the type atoms a shape's constraints make impossible.

`{"type": "string", "minLength": 3, "maxLength": 1}` accepts nothing, and
`{"type": ["array", "string"], "items": false, "minItems": 1}` accepts only strings. A
shape with no feasible atom is empty, which is how contradictions compare as `false`.
Every rule here only removes what is certainly impossible: claiming emptiness wrongly
would make the checker unsound.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction

from baton.compiler.schema_diff.content import effective_property
from baton.compiler.schema_diff.shape import Bound, Shape, Sub, empty_shape, tighter_upper
from baton.compiler.schema_diff.values import NUMBER_TYPES, atom_of, exact

IsEmpty = Callable[[Sub], bool]


def _in_range(shape: Shape, number: Fraction) -> bool:
    low, high = shape.lower, shape.upper
    if low is not None and (number < low.value or (low.exclusive and number == low.value)):
        return False
    return not (
        high is not None and (number > high.value or (high.exclusive and number == high.value))
    )


def _count_ok(low: Bound | None, high: Bound | None, count: int) -> bool:
    return (low is None or count >= low.value) and (high is None or count <= high.value)


def value_fits(shape: Shape, value: object) -> bool:
    """False only when `value` certainly fails the shape's simple constraints."""
    atom = atom_of(value)
    if atom not in shape.types:
        return False
    number = exact(value)
    if number is not None:
        steps_ok = all((number / step.value).denominator == 1 for step in shape.multiple_of)
        return _in_range(shape, number) and steps_ok
    if isinstance(value, str):
        return _count_ok(shape.min_length, shape.max_length, len(value))
    if isinstance(value, list):
        return _count_ok(shape.min_items, shape.max_items, len(value))
    if isinstance(value, dict):
        present = all(mark.value in value for mark in shape.required)
        return present and _count_ok(shape.min_props, shape.max_props, len(value))
    return True


def _number_atoms(shape: Shape) -> set[str]:
    low, high = shape.lower, shape.upper
    if (
        low is not None
        and high is not None
        and (low.value, low.exclusive or high.exclusive) > (high.value, False)
    ):
        return set()  # low > high, or low == high with one side exclusive
    feasible = set(NUMBER_TYPES)
    first = (
        -math.inf
        if low is None
        else math.floor(low.value) + 1
        if low.exclusive
        else math.ceil(low.value)
    )
    last = (
        math.inf
        if high is None
        else math.ceil(high.value) - 1
        if high.exclusive
        else math.floor(high.value)
    )
    if first > last:
        feasible.discard("integer")
    point = low is not None and high is not None and low.value == high.value
    if (point and low is not None and low.value.denominator == 1) or any(
        step.value.denominator == 1 for step in shape.multiple_of
    ):
        feasible.discard("non-integer")  # a single integer point, or multiples of an integer
    return feasible


def _arrays(shape: Shape, is_empty: IsEmpty) -> Shape | None:
    high = shape.max_items
    if shape.rest is not None and is_empty(shape.rest):
        high = tighter_upper(
            high, Bound(Fraction(len(shape.prefix)), False, "items", shape.rest.path)
        )
    low = 0 if shape.min_items is None else shape.min_items.value
    for index, item in enumerate(shape.prefix):
        if high is not None and index >= high.value:
            break
        if is_empty(item):
            if index < low:
                return None
            high = tighter_upper(high, Bound(Fraction(index), False, "prefixItems", item.path))
            break
    if high is not None and low > high.value:
        return None
    if high is not None and high.value == 0 and any(c.minimum >= 1 for c in shape.contains):
        return None
    # prefixItems / items past the limit stay: they say whether the array is closed, and
    # the comparison ignores positions no valid array reaches.
    return replace(shape, max_items=high, min_items=shape.min_items if low else None)


def _objects(shape: Shape, is_empty: IsEmpty) -> Shape | None:
    high = shape.max_props
    for group in shape.objects:
        extra = group.additional
        # additionalProperties: false alone: no property may appear at all
        if not group.properties and not group.patterns and extra is not None and is_empty(extra):
            nothing = Bound(Fraction(0), False, "additionalProperties", extra.path)
            high = tighter_upper(high, nothing)
    low = 0 if shape.min_props is None else shape.min_props.value
    if high is not None and (low > high.value or len(shape.required) > high.value):
        return None
    for mark in shape.required:
        found = effective_property(shape, str(mark.value))
        if found.sub is not None and not found.uncertain and is_empty(found.sub):
            return None
    return replace(shape, max_props=high, min_props=shape.min_props if low else None)


def _clear_unused(shape: Shape) -> Shape:
    # Constraints of an impossible type constrain nothing; clearing them keeps equal
    # schemas equal.
    types = shape.types
    if not types & NUMBER_TYPES:
        shape = replace(shape, lower=None, upper=None, multiple_of=())
    if "string" not in types:
        shape = replace(shape, min_length=None, max_length=None, patterns=(), formats=())
    elif shape.min_length is not None and shape.min_length.value == 0:
        shape = replace(shape, min_length=None)
    if "array" not in types:
        shape = replace(
            shape, min_items=None, max_items=None, prefix=(), rest=None, unique=None, contains=()
        )
    if "object" not in types:
        shape = replace(
            shape,
            objects=(),
            required=(),
            min_props=None,
            max_props=None,
            property_names=None,
            dep_required=(),
            dep_schemas=(),
        )
    return shape


def finish(shape: Shape, is_empty: IsEmpty) -> Shape:
    """The shape with impossible atoms removed, or the empty shape."""
    if shape.empty:
        return empty_shape(shape.path)
    if shape.values is not None:
        kept = frozenset(key for key in shape.values if value_fits(shape, json.loads(key)))
        if not kept:
            return empty_shape(shape.path)
        atoms = frozenset(atom_of(json.loads(key)) for key in kept)
        shape = replace(shape, values=kept, types=shape.types & atoms)
    types = set(shape.types)
    if types & NUMBER_TYPES:
        types -= NUMBER_TYPES - _number_atoms(shape)
    if "string" in types:
        low, high = shape.min_length, shape.max_length
        if low is not None and high is not None and low.value > high.value:
            types.discard("string")
    if "array" in types:
        arrays = _arrays(shape, is_empty)
        if arrays is None:
            types.discard("array")
        else:
            shape = arrays
    if "object" in types:
        objects = _objects(shape, is_empty)
        if objects is None:
            types.discard("object")
        else:
            shape = objects
    if not types:
        return empty_shape(shape.path)
    return _clear_unused(replace(shape, types=frozenset(types)))
