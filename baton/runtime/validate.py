"""JSON Schema (draft 2020-12) validation of handoffs, with errors as JSON pointers.

Validators come from `jsonschema_rs` (measured at ~1 us for a 1 KB payload, about a
hundred times faster than `jsonschema`) and are compiled once per distinct schema: the
cache key is the schema's canonical JSON, so equal schemas built separately (a handoff
used by several steps, a workflow loaded twice) share one validator.

Remote `$ref`s are never fetched (`offline=True`): the compiler inlines file references,
and a run must not depend on the network to check its own data.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from baton.runtime.canonical import canonical_json
from baton.runtime.model import JSON

# Messages quote the offending instance; a rejected 1 MB output must not put 1 MB into
# every event that records the rejection.
MAX_MESSAGE_CHARS = 400

# Validators by the canonical JSON of their schema; and, in front of that, by the
# identity of the schema object, because canonicalizing a schema costs ten times more
# than validating a typical payload. The identity cache keeps the schema object alive so
# its id cannot be reused by another object; it is bounded because a caller that builds
# a fresh dict per call would otherwise grow it forever.
_validators: dict[bytes, jsonschema_rs.Validator] = {}
_by_identity: dict[int, tuple[JSON, jsonschema_rs.Validator]] = {}
MAX_IDENTITY_ENTRIES = 1024
_lock = threading.Lock()


@dataclass(frozen=True, order=True)
class ValidationIssue:
    """One reason an instance fails its schema: where (RFC 6901 pointer) and why.

    `pointer` is "" for the instance itself, "/sources/0" for an item below it.
    """

    pointer: str
    message: str


class SchemaError(ValueError):
    """The schema itself is not a valid draft 2020-12 schema (a bug upstream: the
    compiler checks every schema it emits)."""


def validator(schema: JSON) -> jsonschema_rs.Validator:
    """The compiled validator for `schema`, built on first use and cached.

    A schema must not be mutated after its first use (compiled workflows never do).
    """
    known = _by_identity.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    key = canonical_json(schema)
    compiled = _validators.get(key)
    if compiled is None:
        try:
            compiled = jsonschema_rs.Draft202012Validator(schema, offline=True)
        except jsonschema_rs.ValidationError as error:
            raise SchemaError(f"invalid JSON Schema: {_first_line(str(error))}") from error
    with _lock:
        # two threads may compile the same schema; either result is fine, keep the first
        compiled = _validators.setdefault(key, compiled)
        if len(_by_identity) >= MAX_IDENTITY_ENTRIES:
            _by_identity.clear()
        _by_identity[id(schema)] = (schema, compiled)
    return compiled


def validate(schema: JSON, instance: JSON) -> list[ValidationIssue]:
    """Every way `instance` fails `schema`, sorted by pointer then message; [] if valid.

    >>> validate({"type": "object", "properties": {"n": {"type": "integer"}}}, {"n": "x"})
    [ValidationIssue(pointer='/n', message='"x" is not of type "integer"')]
    """
    compiled = validator(schema)
    if compiled.is_valid(instance):  # the common case, without building error objects
        return []
    issues = {
        ValidationIssue(json_pointer(error.instance_path), _shorten(error.message))
        for error in compiled.iter_errors(instance)
        if not _exact_multiple(error)
    }
    return sorted(issues)


def _exact_multiple(error: Any) -> bool:
    """A `multipleOf` error that exact arithmetic refutes.

    jsonschema_rs divides in floating point, so a huge integral float such as
    8.133117093446558e16 (exactly 3 x 27110390311488528) is wrongly called not a
    multiple of 3; JSON Schema means the exact value, so re-check with fractions.
    """
    kind = error.kind
    if getattr(kind, "name", "") != "multipleOf":
        return False
    value, divisor = error.instance, getattr(kind, "multiple_of", None)
    if not isinstance(value, int | float) or not isinstance(divisor, int | float) or not divisor:
        return False
    from fractions import Fraction

    return Fraction(value) % Fraction(divisor) == 0


def is_valid(schema: JSON, instance: JSON) -> bool:
    """Whether `instance` satisfies `schema` (the fast path of `validate`)."""
    return bool(validator(schema).is_valid(instance))


def json_pointer(path: list[str | int] | tuple[str | int, ...]) -> str:
    """An RFC 6901 pointer for a path of keys and indexes.

    >>> json_pointer(["sources", 0]), json_pointer([]), json_pointer(["a/b", "c~d"])
    ('/sources/0', '', '/a~1b/c~0d')
    """
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _shorten(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 1] + "\u2026"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


def clear_cache() -> None:
    """Forget every compiled validator (tests, and long-lived processes reloading specs)."""
    with _lock:
        _validators.clear()
        _by_identity.clear()


def cache_size() -> int:
    """How many distinct schemas have a compiled validator."""
    return len(_validators)


__all__ = [
    "SchemaError",
    "ValidationIssue",
    "cache_size",
    "clear_cache",
    "is_valid",
    "json_pointer",
    "validate",
    "validator",
]
