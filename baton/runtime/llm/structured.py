"""Structured output: the handoff schema as each provider's output contract.

- OpenAI-compatible: `response_format: {"type": "json_schema", "json_schema": {"name",
  "schema", "strict"}}`; `strict` is true only where the schema is inside OpenAI's strict
  subset (`strict_problems` says why not, and the linter prints that as a note), because
  OpenAI rejects a strict request whose schema is outside it.
- Anthropic: one tool whose `input_schema` is the schema, forced with `tool_choice`; the
  tool's input is the output.

Both providers want an object at the root, so a handoff whose schema is not `"type":
"object"` is sent wrapped as `{"output": <schema>}` and unwrapped on the way back
(`OutputContract.unwrap`); validation errors then sit under `/output` in the model's
view (`pointer_prefix`). Whatever the provider promises, Baton validates every reply.

Baton's own annotations (`x-*`, such as `x-baton-trust`), `$schema` and `$comment` mean
nothing to a provider and are left out of the schema sent (`provider_schema`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from baton.runtime.model import JSON

WRAP_KEY = "output"
DEFAULT_NAME = "output"
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
NAME_MAX = 64  # OpenAI's json_schema name and Anthropic's tool name: [A-Za-z0-9_-]{1,64}
TOOL_DESCRIPTION = (
    "Give your answer by calling this tool: its input is your answer, and it must match "
    "the input schema exactly."
)

# -- where subschemas sit (JSON Schema 2020-12), so that a walk never mistakes a
# property *named* "x-id" or "type" for a keyword
SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
SCHEMA_SINGLES = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
)
ANNOTATIONS_DROPPED = frozenset({"$schema", "$comment"})

# -- OpenAI's strict subset (platform docs, "Structured Outputs: supported schemas")
STRICT_KEYWORDS = frozenset(
    {
        # structure
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "anyOf",
        "enum",
        "const",
        "$ref",
        "$defs",
        "definitions",
        # annotations
        "title",
        "description",
        # strings
        "pattern",
        "format",
        # numbers
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        # arrays
        "minItems",
        "maxItems",
    }
)
STRICT_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
STRICT_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)
MAX_PROPERTIES = 5000
MAX_OBJECT_DEPTH = 10
MAX_ENUM_VALUES = 1000
MAX_STRING_CHARS = 120_000
LARGE_ENUM = 250
LARGE_ENUM_MAX_CHARS = 15_000


@dataclass(frozen=True)
class OutputContract:
    """What a provider is asked to produce for one handoff: the schema sent, its name,
    whether it was wrapped, and why it is not strict (empty: it is)."""

    name: str
    schema: dict[str, Any]
    wrapped: bool
    problems: tuple[str, ...]

    @property
    def strict(self) -> bool:
        return not self.problems

    @property
    def pointer_prefix(self) -> str:
        """Where the handoff's output sits in what the model wrote ("" or "/output")."""
        return f"/{WRAP_KEY}" if self.wrapped else ""

    def unwrap(self, value: JSON) -> tuple[JSON, str | None]:
        """The handoff output in the model's reply, or None and why it has none."""
        if not self.wrapped:
            return value, None
        if isinstance(value, dict) and WRAP_KEY in value:
            return value[WRAP_KEY], None
        return None, f"the reply has no {WRAP_KEY!r} field (the answer goes in it)"


def output_contract(schema: JSON, name: str = DEFAULT_NAME) -> OutputContract:
    """The contract for a handoff schema; `name` is the handoff's (sanitized here).

    >>> contract = output_contract({"type": "string", "x-baton-trust": "untrusted"}, "note@1")
    >>> contract.name, contract.wrapped, contract.strict
    ('note_1', True, True)
    >>> contract.schema["properties"]
    {'output': {'type': 'string'}}
    """
    sent = provider_schema(schema)
    wrapped = not (isinstance(sent, dict) and sent.get("type") == "object")
    if wrapped:
        sent = _wrap(sent)
    assert isinstance(sent, dict)
    return OutputContract(output_name(name), sent, wrapped, tuple(subset_problems(sent)))


def strict_problems(schema: JSON) -> list[str]:
    """Why OpenAI would refuse `schema` (a handoff's) in strict mode; [] when it would
    not. Each reason starts with the JSON pointer of the part of the schema at fault.

    >>> for problem in strict_problems({"type": "object", "properties": {"a": {}}}):
    ...     print(problem)
    (root): an object needs "additionalProperties": false
    (root): every property must be required (not required: 'a')
    """
    return list(output_contract(schema).problems)


def output_name(name: str) -> str:
    """A handoff name as a json_schema / tool name: `[A-Za-z0-9_-]{1,64}`.

    >>> output_name("brief@2"), output_name("")
    ('brief_2', 'output')
    """
    cleaned = _NAME_UNSAFE.sub("_", name).strip("_")[:NAME_MAX]
    return cleaned or DEFAULT_NAME


def openai_response_format(contract: OutputContract) -> dict[str, Any]:
    """The Chat Completions `response_format` for the contract."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": contract.name,
            "schema": contract.schema,
            "strict": contract.strict,
        },
    }


def anthropic_tool(contract: OutputContract) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Messages API `tools` entry and the `tool_choice` that forces it."""
    tool = {
        "name": contract.name,
        "description": TOOL_DESCRIPTION,
        "input_schema": contract.schema,
    }
    return tool, {"type": "tool", "name": contract.name}


# -- the schema sent


def provider_schema(schema: JSON) -> JSON:
    """`schema` without Baton's `x-*` annotations, `$schema` and `$comment`.

    >>> provider_schema({"type": "object", "x-baton-trust": "untrusted",
    ...                  "properties": {"x-id": {"type": "string", "$comment": "c"}}})
    {'type': 'object', 'properties': {'x-id': {'type': 'string'}}}
    """
    if not isinstance(schema, dict):
        return schema
    result: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword.startswith("x-") or keyword in ANNOTATIONS_DROPPED:
            continue
        if keyword in SCHEMA_MAPS and isinstance(value, dict):
            result[keyword] = {name: provider_schema(sub) for name, sub in value.items()}
        elif keyword in SCHEMA_LISTS and isinstance(value, list):
            result[keyword] = [provider_schema(sub) for sub in value]
        elif keyword in SCHEMA_SINGLES:
            if isinstance(value, list):  # draft-04 tuple `items`
                result[keyword] = [provider_schema(sub) for sub in value]
            else:
                result[keyword] = provider_schema(value)
        else:
            result[keyword] = value
    return result


def _wrap(schema: JSON) -> dict[str, Any]:
    inner = dict(schema) if isinstance(schema, dict) else schema
    wrapper: dict[str, Any] = {"type": "object"}
    if isinstance(inner, dict):
        # `#/$defs/...` references keep resolving when the definitions move to the root
        for keyword in ("$defs", "definitions"):
            if keyword in inner:
                wrapper[keyword] = inner.pop(keyword)
    wrapper["properties"] = {WRAP_KEY: inner}
    wrapper["required"] = [WRAP_KEY]
    wrapper["additionalProperties"] = False
    return wrapper


# -- the strict subset


def subset_problems(schema: JSON) -> list[str]:
    """Why `schema`, exactly as it would be sent, is outside OpenAI's strict subset."""
    problems: list[str] = []
    if not isinstance(schema, dict) or schema.get("type") != "object":
        problems.append('(root): the root must be an object schema ("type": "object")')
    if isinstance(schema, dict) and "anyOf" in schema:
        problems.append("(root): the root must not be an anyOf")
    totals = _Totals()
    _check(schema, "", 0, problems, totals)
    problems.extend(totals.problems())
    return problems


@dataclass
class _Totals:
    properties: int = 0
    depth: int = 0
    enum_values: int = 0
    string_chars: int = 0
    large_enums: int = 0

    def problems(self) -> Iterator[str]:
        if self.properties > MAX_PROPERTIES:
            yield f"(root): {self.properties} object properties, more than {MAX_PROPERTIES}"
        if self.depth > MAX_OBJECT_DEPTH:
            yield f"(root): objects nested {self.depth} deep, more than {MAX_OBJECT_DEPTH}"
        if self.enum_values > MAX_ENUM_VALUES:
            yield f"(root): {self.enum_values} enum values, more than {MAX_ENUM_VALUES}"
        if self.string_chars > MAX_STRING_CHARS:
            yield (
                f"(root): names, enum and const values total {self.string_chars} "
                f"characters, more than {MAX_STRING_CHARS}"
            )
        if self.large_enums:
            yield (
                f"(root): an enum of more than {LARGE_ENUM} strings totals more than "
                f"{LARGE_ENUM_MAX_CHARS} characters"
            )


def _check(node: JSON, pointer: str, depth: int, problems: list[str], totals: _Totals) -> None:
    where = pointer or "(root)"
    if isinstance(node, bool):
        problems.append(f"{where}: a boolean schema ({str(node).lower()}) is not supported")
        return
    if not isinstance(node, dict):
        problems.append(f"{where}: a schema must be an object")
        return
    for keyword in sorted(set(node) - STRICT_KEYWORDS):
        problems.append(f"{where}: {keyword!r} is not supported in strict mode")
    if "$ref" in node:
        ref = node["$ref"]
        if len(node) > 1:
            problems.append(f"{where}: '$ref' must stand alone (it has sibling keywords)")
        if not (isinstance(ref, str) and ref.startswith("#")):
            problems.append(f"{where}: only local '$ref's (starting with '#') are supported")
    types = _types(node, where, problems)
    if "object" in types or "properties" in node:
        depth += 1
        totals.depth = max(totals.depth, depth)
        _check_object(node, where, problems, totals)
    elif "additionalProperties" in node and node["additionalProperties"] is not False:
        problems.append(f'{where}: "additionalProperties" must be false')
    if "format" in node and node["format"] not in STRICT_FORMATS:
        problems.append(f"{where}: format {node['format']!r} is not supported in strict mode")
    _count_values(node, totals)
    for keyword in ("properties", "$defs", "definitions"):
        children = node.get(keyword)
        if isinstance(children, dict):
            for name, child in children.items():
                if keyword != "properties":
                    totals.string_chars += len(name)
                _check(child, f"{pointer}/{keyword}/{_escape(name)}", depth, problems, totals)
    if "items" in node:
        if isinstance(node["items"], list):
            problems.append(f"{where}: 'items' must be one schema, not a list")
        else:
            _check(node["items"], f"{pointer}/items", depth, problems, totals)
    any_of = node.get("anyOf")
    if isinstance(any_of, list):
        for index, branch in enumerate(any_of):
            _check(branch, f"{pointer}/anyOf/{index}", depth, problems, totals)
    elif "anyOf" in node:
        problems.append(f"{where}: 'anyOf' must be a list of schemas")


def _types(node: dict[str, Any], where: str, problems: list[str]) -> set[str]:
    if "type" not in node:
        return set()
    declared = node["type"]
    names = declared if isinstance(declared, list) else [declared]
    bad = [name for name in names if not (isinstance(name, str) and name in STRICT_TYPES)]
    if bad or not names:
        problems.append(f"{where}: type {declared!r} is not supported in strict mode")
    return {name for name in names if isinstance(name, str)}


def _check_object(node: dict[str, Any], where: str, problems: list[str], totals: _Totals) -> None:
    if node.get("additionalProperties") is not False:
        problems.append(f'{where}: an object needs "additionalProperties": false')
    properties = node.get("properties", {})
    if not isinstance(properties, dict):
        problems.append(f"{where}: 'properties' must be an object")
        return
    totals.properties += len(properties)
    totals.string_chars += sum(len(name) for name in properties)
    required = node.get("required", [])
    listed = set(required) if isinstance(required, list) else set()
    missing = [name for name in properties if name not in listed]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        problems.append(f"{where}: every property must be required (not required: {names})")


def _count_values(node: dict[str, Any], totals: _Totals) -> None:
    enum = node.get("enum")
    if isinstance(enum, list):
        totals.enum_values += len(enum)
        strings = [value for value in enum if isinstance(value, str)]
        chars = sum(len(value) for value in strings)
        totals.string_chars += chars
        if len(strings) > LARGE_ENUM and chars > LARGE_ENUM_MAX_CHARS:
            totals.large_enums += 1
    const = node.get("const")
    if isinstance(const, str):
        totals.string_chars += len(const)


def _escape(name: str) -> str:
    """A name as a JSON pointer token (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")
