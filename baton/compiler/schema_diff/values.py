"""JSON values as the checker sees them: canonical keys, type atoms, exact numbers, display.

JSON Schema compares values by JSON equality (`1 == 1.0`, `true != 1`), so every value is
keyed by a canonical JSON text before it is put in a set.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

# The type atoms a schema is split into. `number` is `integer` plus `non-integer`, so that
# "integer is a subset of number" and `not: {type: integer}` are plain set operations.
ALL_TYPES = frozenset(
    {"array", "boolean", "integer", "non-integer", "null", "object", "string"},
)
NUMBER_TYPES = frozenset({"integer", "non-integer"})
TYPE_ATOMS: dict[str, frozenset[str]] = {
    "array": frozenset({"array"}),
    "boolean": frozenset({"boolean"}),
    "integer": frozenset({"integer"}),
    "null": frozenset({"null"}),
    "number": NUMBER_TYPES,
    "object": frozenset({"object"}),
    "string": frozenset({"string"}),
}


def _canon(value: object) -> object:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_canon(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _canon(item) for key, item in value.items()}
    return value


def canonical(value: object) -> str:
    """The canonical JSON text of a value: equal JSON values give equal texts.

    >>> canonical({"b": 1.0, "a": [True]}) == canonical({"a": [True], "b": 1})
    True
    """
    return json.dumps(_canon(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def atom_of(value: object) -> str:
    """The type atom of a JSON value.

    >>> [atom_of(v) for v in (None, True, 2, 2.5, 2.0, "x", [], {})]
    ['null', 'boolean', 'integer', 'non-integer', 'integer', 'string', 'array', 'object']
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "non-integer"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def exact(value: object) -> Fraction | None:
    """A JSON number as an exact fraction (decimal intent, so 0.1 is 1/10); None if not one.

    >>> exact(0.1), exact(3), exact(True), exact(float("inf"))
    (Fraction(1, 10), Fraction(3, 1), None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float) and math.isfinite(value):
        return Fraction(repr(value))
    return None


def show_number(value: Fraction) -> str:
    """A fraction written back as a JSON number.

    >>> show_number(Fraction(3)), show_number(Fraction(1, 10)), show_number(Fraction(1, 3))
    ('3', '0.1', '0.3333333333333333')
    """
    if value.denominator == 1:
        return str(value.numerator)
    return repr(float(value))


def show_types(types: frozenset[str]) -> str:
    """Type atoms written the way a schema author would.

    >>> show_types(frozenset({"integer", "non-integer", "string"}))
    '[number, string]'
    >>> show_types(frozenset({"non-integer"}))
    '[non-integer number]'
    """
    names = set(types)
    if names >= NUMBER_TYPES:
        names -= NUMBER_TYPES
        names.add("number")
    elif "non-integer" in names:
        names.discard("non-integer")
        names.add("non-integer number")
    return "[" + ", ".join(sorted(names)) + "]"
