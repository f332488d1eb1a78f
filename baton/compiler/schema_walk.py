"""Walk a JSON Schema along a reference path (`summary`, `sources[0]`).

Used by the data-flow rules: does the producer's schema define the field a template
reads? `$ref`s (local and relative files) are followed; combinators are searched. A
schema that does not constrain a level (`{}`, `true`) accepts every path below it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from baton.compiler.refs import Resolved, SchemaStore
from baton.compiler.yamlnodes import JSON, YNode

_MAX_REF_HOPS = 64


@dataclass(frozen=True)
class SchemaAt:
    """A (sub)schema with the document it lives in, so its `$ref`s can be resolved."""

    value: JSON
    base: Path
    document: JSON
    node: YNode | None = None


@dataclass(frozen=True)
class Missing:
    """The path leaves the schema: `part` is not defined, or the value is not a container."""

    part: str | int
    reason: str
    known: tuple[str, ...] | None = None  # the fields the schema does define, if an object


def _deref(at: SchemaAt, store: SchemaStore) -> SchemaAt | None:
    for _ in range(_MAX_REF_HOPS):
        value = at.value
        if not (isinstance(value, dict) and isinstance(value.get("$ref"), str)):
            return at
        ref = str(value["$ref"])
        resolved = store.resolve(ref, at.base, at.document, None)
        if not isinstance(resolved, Resolved):
            return None  # B305 reports it, or B004 for a file outside the root
        at = SchemaAt(resolved.value, resolved.base, resolved.document, resolved.node)
    return None


def _branches(value: dict[str, JSON]) -> list[JSON]:
    out: list[JSON] = []
    for keyword in ("allOf", "anyOf", "oneOf"):
        branches = value.get(keyword)
        if isinstance(branches, list):
            out.extend(branches)
    return out


def _types(value: dict[str, JSON]) -> set[str]:
    declared = value.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    return set()


_ARTICLES = {"array": "an array", "integer": "an integer", "object": "an object", "null": "null"}


def _kinds(types: set[str]) -> str:
    """JSON types as words.

    >>> _kinds({"string", "null"})
    'null or a string'
    """
    return " or ".join(_ARTICLES.get(t, f"a {t}") for t in sorted(types))


def descend(at: SchemaAt, part: str | int, store: SchemaStore) -> SchemaAt | Missing | None:
    """The subschema for one step of a path; None when the schema cannot tell."""
    resolved = _deref(at, store)
    if resolved is None:
        return None
    value = resolved.value
    if value is True or value == {}:
        return None
    if not isinstance(value, dict):
        return Missing(part, "the schema accepts nothing here")

    def child(sub: JSON) -> SchemaAt:
        return SchemaAt(sub, resolved.base, resolved.document)

    types = _types(value)
    if isinstance(part, int) or (isinstance(part, str) and part.isdigit() and "array" in types):
        index = int(part)
        prefix = value.get("prefixItems")
        if isinstance(prefix, list) and index < len(prefix):
            return child(prefix[index])
        items = value.get("items")
        if items is not None:
            return child(items)
        if types and "array" not in types:
            return Missing(part, f"it is {_kinds(types)}, not an array")
    else:
        properties = value.get("properties")
        if isinstance(properties, dict) and part in properties:
            return child(properties[part])
        patterns = value.get("patternProperties")
        if isinstance(patterns, dict) and patterns:
            for pattern, sub in sorted(patterns.items()):
                if _matches(pattern, part):
                    return child(sub)
        extra = value.get("additionalProperties")
        if extra is True or extra == {}:
            return None  # explicitly open: any field may be there
        if isinstance(extra, dict):
            return child(extra)
    # a field that no branch of allOf/anyOf/oneOf defines is not defined
    misses: list[Missing] = []
    for branch in _branches(value):
        found = descend(child(branch), part, store)
        if isinstance(found, SchemaAt) or found is None:
            return found
        misses.append(found)
    if types and not types & {"object", "array"}:
        return Missing(part, f"it is {_kinds(types)}, not an object")
    defined_by_branches = [m.known for m in misses if m.known is not None]
    if isinstance(part, str) and (
        types == {"object"} or "properties" in value or defined_by_branches
    ):
        properties = value.get("properties")
        known = set(properties) if isinstance(properties, dict) else set()
        known = known.union(*defined_by_branches)
        listed = ", ".join(f"'{k}'" for k in sorted(known)) or "none"
        return Missing(part, f"the schema defines {listed}", tuple(sorted(known)))
    return misses[0] if misses else None


def _matches(pattern: str, name: str) -> bool:
    """Whether a patternProperties regex matches; one Python cannot compile matches nothing
    here (ECMA-262 regex dialects differ; B301 is the place to judge the pattern).

    >>> _matches("^m_", "m_x"), _matches("[", "x")
    (True, False)
    """
    import re

    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


def walk(
    at: SchemaAt, path: tuple[str | int, ...], store: SchemaStore
) -> tuple[int, Missing] | None:
    """The first step of `path` that leaves the schema, with its index; None if all fit."""
    current: SchemaAt | None = at
    for index, part in enumerate(path):
        if current is None:
            return None
        step = descend(current, part, store)
        if isinstance(step, Missing):
            return index, step
        current = step
    return None


def is_untrusted(at: SchemaAt, path: tuple[str | int, ...], store: SchemaStore) -> bool:
    """Whether a read of `path` may carry data marked `x-baton-trust: untrusted`."""
    current: SchemaAt | None = at
    for part in path:
        if current is None:
            return False
        resolved = _deref(current, store)
        if (
            resolved
            and isinstance(resolved.value, dict)
            and resolved.value.get("x-baton-trust") == "untrusted"
        ):
            return True
        step = descend(current, part, store)
        current = step if isinstance(step, SchemaAt) else None
    return current is not None and contains_untrusted(current, store)


def contains_untrusted(at: SchemaAt, store: SchemaStore, _depth: int = 0) -> bool:
    """Whether a schema marks anything at or below it as untrusted."""
    if _depth > _MAX_REF_HOPS:
        return False
    resolved = _deref(at, store)
    if resolved is None or not isinstance(resolved.value, dict):
        return False
    value = resolved.value
    if value.get("x-baton-trust") == "untrusted":
        return True
    children: list[JSON] = []
    for keyword in ("properties", "patternProperties", "$defs"):
        sub = value.get(keyword)
        if isinstance(sub, dict):
            children.extend(sub.values())
    for keyword in ("items", "additionalProperties"):
        if isinstance(value.get(keyword), dict):
            children.append(value[keyword])
    prefix = value.get("prefixItems")
    if isinstance(prefix, list):
        children.extend(prefix)
    children.extend(_branches(value))
    return any(
        contains_untrusted(SchemaAt(c, resolved.base, resolved.document), store, _depth + 1)
        for c in children
    )
