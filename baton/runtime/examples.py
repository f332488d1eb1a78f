"""Deterministic example instances of JSON Schemas.

`example_from_schema(schema, seed)` builds a value valid against `schema`: the demo
agents answer with one (seeded by a hash of their input), and `baton run --dry-run`
renders every template against examples of the input and handoff schemas.

How: the generator works on a *conjunction*, the list of subschemas that must all hold
at one place in the instance (a schema, what its `$ref` and `allOf` bring in, the
branch of a `oneOf` being tried). It proposes candidates in order of preference and
keeps the first that every subschema of the conjunction accepts, checked by the real
validator of that subschema (`jsonschema_rs.validator_map_for`). So a heuristic that
guesses wrong (a regex the pattern generator misreads, a keyword it ignores such as
`not` or `if`) costs a candidate, never a wrong answer: the result is validated against
the whole schema before it is returned, and `ExampleError` says when none was found.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

import jsonschema_rs

from baton.runtime.canonical import canonical_json
from baton.runtime.example_values import NoCandidate, numbers, strings
from baton.runtime.model import JSON
from baton.runtime.validate import is_valid, json_pointer

# Beyond this nesting depth, optional properties and optional array items are left
# out, so recursive schemas (a tree node whose children are tree nodes) terminate.
MAX_DEPTH = 6
_TYPE_HINTS = {
    "object": ("properties", "required", "additionalProperties", "patternProperties",
               "minProperties", "maxProperties", "propertyNames", "dependentRequired"),
    "array": ("items", "prefixItems", "minItems", "maxItems", "contains", "uniqueItems"),
    "string": ("minLength", "maxLength", "pattern", "format"),
    "number": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
}  # fmt: skip

Part = tuple[Any, str]  # a subschema and its pointer ("#/properties/a") in the root


class ExampleError(ValueError):
    """No instance could be derived (an unsatisfiable schema, or one beyond the generator)."""


def example_from_schema(schema: JSON, seed: int = 0) -> JSON:
    """A deterministic instance valid against `schema` (draft 2020-12).

    The same schema and seed give the same instance; a different seed usually varies
    numbers, enum choices and strings.

    >>> example_from_schema({"type": "object", "required": ["n"],
    ...     "properties": {"n": {"type": "integer", "minimum": 3}}})
    {'n': 3}
    """
    if schema is True or schema == {}:
        return {}
    try:
        value = _Generator(schema, seed).generate([(schema, "#")], "", 0)
    except NoCandidate as error:
        raise ExampleError(f"cannot derive an example of this schema: {error}") from None
    if not is_valid(schema, value):
        raise ExampleError("cannot derive an example of this schema: the candidate fails it")
    return value


@lru_cache(maxsize=256)
def _validator_map(schema_json: bytes) -> Any:
    """Validators of every subschema by pointer, compiled once per distinct schema."""
    return jsonschema_rs.validator_map_for(json.loads(schema_json), offline=True)


class _Generator:
    """One derivation: the root schema (for `$ref`) and its per-subschema validators."""

    def __init__(self, root: JSON, seed: int) -> None:
        self.root = root
        self.seed = seed
        try:
            self.validators = _validator_map(canonical_json(root))
        except jsonschema_rs.ValidationError as error:
            raise ExampleError(f"invalid JSON Schema: {str(error).splitlines()[0]}") from None

    # -- conjunctions

    def accepts(self, parts: list[Part], value: JSON) -> bool:
        """Whether every subschema of the conjunction accepts `value`."""
        for node, pointer in parts:
            if node is False:
                return False
            checker = self.validators.get(pointer)
            if checker is not None and not checker.is_valid(value):
                return False
        return True

    def expand(self, parts: list[Part]) -> list[Part]:
        """The conjunction with what `$ref` and `allOf` bring in, each subschema once."""
        out: list[Part] = []
        seen: set[str] = set()
        pending = list(parts)
        while pending:
            node, pointer = pending.pop(0)
            if pointer in seen:
                continue
            seen.add(pointer)
            if node is False:
                raise NoCandidate(f"{pointer[1:] or 'the schema'} is `false`")
            if not isinstance(node, dict):
                continue  # `true` accepts everything
            out.append((node, pointer))
            if isinstance(node.get("$ref"), str):
                pending.append(self.resolve(node["$ref"]))
            for index, sub in enumerate(node.get("allOf", ())):
                pending.append((sub, f"{pointer}/allOf/{index}"))
        return out

    def resolve(self, ref: str) -> Part:
        """A local `$ref` ("#/$defs/name") and the subschema it names."""
        if not ref.startswith("#"):
            raise NoCandidate(f"only local references are supported, not {ref!r}")
        node = self.root
        for raw in unquote(ref[1:]).split("/")[1:]:
            key = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            elif isinstance(node, dict) and key in node:
                node = node[key]
            else:
                raise NoCandidate(f"reference {ref!r} names nothing")
        return node, "#" + unquote(ref[1:])

    # -- values

    def generate(self, parts: list[Part], hint: str, depth: int) -> JSON:
        """The first candidate every subschema of the conjunction accepts."""
        if depth > 4 * MAX_DEPTH:
            raise NoCandidate("the schema nests too deeply")
        expanded = self.expand(parts)
        for index, (node, _) in enumerate(expanded):
            for keyword in ("oneOf", "anyOf"):
                if keyword in node:
                    return self.branch(expanded, index, keyword, hint, depth)
        for candidate in self.candidates(expanded, hint, depth):
            if self.accepts(expanded, candidate):
                return candidate
        where = expanded[0][1][1:] if expanded else ""
        raise NoCandidate(f"no value satisfies {where or 'the schema'}")

    def branch(self, parts: list[Part], index: int, keyword: str, hint: str, depth: int) -> JSON:
        """Try each branch of a `oneOf`/`anyOf` in order; `oneOf` needs exactly one match."""
        node, pointer = parts[index]
        # the node stays in the conjunction (for its checks) but no longer branches
        # (its pointer is not in the validator map, so nothing checks it twice), and an
        # empty subschema at its pointer has every candidate checked against the whole
        # node: a `oneOf` value must not also match another branch
        stripped = {key: value for key, value in node.items() if key != keyword}
        others = [
            *parts[:index],
            (stripped, f"{pointer}!{keyword}"),
            ({}, pointer),
            *parts[index + 1 :],
        ]
        for number, sub in enumerate(node[keyword]):
            branch_pointer = f"{pointer}/{keyword}/{number}"
            try:
                value = self.generate([*others, (sub, branch_pointer)], hint, depth + 1)
            except NoCandidate:
                continue
            if not self.accepts([(node, pointer)], value):
                continue  # e.g. the value also matches another oneOf branch
            return value
        raise NoCandidate(f"no branch of {pointer[1:] or 'the schema'}/{keyword} works")

    def candidates(self, parts: list[Part], hint: str, depth: int) -> list[JSON]:
        """Values to try, most preferred first (the caller checks each)."""
        nodes = [node for node, _ in parts]
        consts = [node["const"] for node in nodes if "const" in node]
        if consts:
            return consts[:1]
        enums = [node["enum"] for node in nodes if isinstance(node.get("enum"), list)]
        if enums:
            choices = enums[0]
            return [choices[(self.seed + i) % len(choices)] for i in range(len(choices))]
        out: list[JSON] = []
        for kind in _types(nodes, hint):
            try:
                out.extend(self.of_type(kind, parts, hint, depth))
            except NoCandidate:
                continue
        return out

    def of_type(self, kind: str, parts: list[Part], hint: str, depth: int) -> list[JSON]:
        if kind == "object":
            return [self.object(parts, depth)]
        if kind == "array":
            return [self.array(parts, hint, depth)]
        if kind == "string":
            return strings([node for node, _ in parts], hint, self.seed)
        if kind in ("integer", "number"):
            return numbers([node for node, _ in parts], kind == "integer", self.seed)
        if kind == "boolean":
            return [self.seed % 2 == 0, self.seed % 2 == 1]
        return [None]

    def object(self, parts: list[Part], depth: int) -> dict[str, JSON]:
        nodes = [node for node, _ in parts]
        required = _ordered(name for node in nodes for name in node.get("required", ()))
        declared = _ordered(name for node in nodes for name in node.get("properties", {}))
        limit = min(
            (node["maxProperties"] for node in nodes if "maxProperties" in node), default=None
        )
        at_least = max((node.get("minProperties", 0) for node in nodes), default=0)
        out: dict[str, JSON] = {}
        for name in required:
            out[name] = self.generate(self.property_parts(parts, name), name, depth + 1)
        optional = [name for name in declared if name not in out] if depth < MAX_DEPTH else []
        extra = (f"property_{number}" for number in range(1, 1000))
        while optional or len(out) < at_least:
            if limit is not None and len(out) >= limit:
                break
            name = optional.pop(0) if optional else next(extra)
            try:
                value = self.generate(self.property_parts(parts, name), name, depth + 1)
            except NoCandidate:
                if len(out) < at_least and not optional:
                    raise
                continue
            candidate = {**out, name: value}
            # an optional property may bring dependentRequired names or break propertyNames
            if len(out) >= at_least and not self.accepts(parts, candidate):
                continue
            out = candidate
        return out

    def property_parts(self, parts: list[Part], name: str) -> list[Part]:
        """The subschemas that apply to property `name` of an object in `parts`."""
        out: list[Part] = []
        for node, pointer in parts:
            properties = node.get("properties", {})
            matched = name in properties
            if matched:
                out.append((properties[name], f"{pointer}/properties/{_escape(name)}"))
            for pattern, sub in node.get("patternProperties", {}).items():
                if _search(pattern, name):
                    matched = True
                    out.append((sub, f"{pointer}/patternProperties/{_escape(pattern)}"))
            if not matched and "additionalProperties" in node:
                out.append((node["additionalProperties"], f"{pointer}/additionalProperties"))
        return out

    def array(self, parts: list[Part], hint: str, depth: int) -> list[JSON]:
        nodes = [node for node, _ in parts]
        at_least = max((node.get("minItems", 0) for node in nodes), default=0)
        at_most = min((node["maxItems"] for node in nodes if "maxItems" in node), default=None)
        prefix = max((len(node.get("prefixItems", ())) for node in nodes), default=0)
        contains = [
            (node["contains"], f"{pointer}/contains")
            for node, pointer in parts
            if "contains" in node
        ]
        min_contains = max(
            (node.get("minContains", 1) for node in nodes if "contains" in node), default=0
        )
        wanted = max(at_least, min_contains, prefix if depth < MAX_DEPTH else 0)
        if depth < MAX_DEPTH:
            wanted = max(wanted, 1)  # one item shows what the items look like
        if at_most is not None:
            wanted = min(wanted, at_most)
        unique = any(node.get("uniqueItems") for node in nodes)
        out: list[JSON] = []
        item_hint = hint[:-1] if hint.endswith("s") else hint  # "sources" -> "source"
        for index in range(wanted):
            item_parts = self.item_parts(parts, index)
            if index < min_contains:
                item_parts += contains
            value = self.item(item_parts, item_hint, depth, index, out if unique else None)
            if value is _MISSING:
                if index < max(at_least, min_contains):
                    raise NoCandidate("not enough items satisfy the array's schema")
                break
            out.append(value)
        return out

    def item(
        self, parts: list[Part], hint: str, depth: int, index: int, taken: list[JSON] | None
    ) -> JSON:
        """Item `index`, seeded apart from its neighbours; with `taken`, one equal to none
        of them (`uniqueItems`). `_MISSING` when none is found."""
        base = self.seed
        seen = {canonical_json(item) for item in taken or ()}
        try:
            for shift in range(8 if taken is not None else 1):
                self.seed = base + index + shift * 7919
                try:
                    value = self.generate(parts, hint, depth + 1)
                except NoCandidate:
                    continue
                if canonical_json(value) not in seen:
                    return value
            return _MISSING
        finally:
            self.seed = base

    def item_parts(self, parts: list[Part], index: int) -> list[Part]:
        """The subschemas that apply to item `index` of an array in `parts`."""
        out: list[Part] = []
        for node, pointer in parts:
            prefix = node.get("prefixItems", [])
            if index < len(prefix):
                out.append((prefix[index], f"{pointer}/prefixItems/{index}"))
            elif "items" in node:
                out.append((node["items"], f"{pointer}/items"))
        return out


_MISSING: Any = object()


def _types(nodes: list[dict[str, Any]], hint: str) -> list[str]:
    """The JSON types worth trying: those every subschema allows, in declared order."""
    allowed: list[str] | None = None
    for node in nodes:
        declared = node.get("type")
        if declared is None:
            continue
        kinds = [declared] if isinstance(declared, str) else list(declared)
        if "number" in kinds and "integer" not in kinds:
            kinds.append("integer")  # an integer is a number
        allowed = kinds if allowed is None else [kind for kind in allowed if kind in kinds]
    if allowed is not None:
        return _ordered(allowed)
    hinted = [
        kind for kind, keys in _TYPE_HINTS.items() if any(k in n for n in nodes for k in keys)
    ]
    if hinted:
        return hinted
    return ["string", "object"] if hint else ["object", "string"]


# -- small helpers


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _escape(key: str) -> str:
    return json_pointer([key])[1:]


def _ordered(items: Any) -> list[Any]:
    """Items without repeats, first occurrence first."""
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


__all__ = ["ExampleError", "example_from_schema"]
