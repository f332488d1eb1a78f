"""Validate a file against the spec format's own JSON Schema (data/spec.schema.json);
rule B002 reports what it finds.

Validator errors are turned into messages that name the key at fault, say what was
expected and suggest near misses; each points at the YAML node at fault.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from baton.compiler.diagnostics import Problem, choices_text, did_you_mean
from baton.compiler.span import Span
from baton.compiler.yamlnodes import JSON, YMap, YNode, node_at

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
_PATTERN_WORDS = {
    "^[a-z][a-z0-9_]*$": "a name of lowercase letters, digits and '_', starting with a letter",
    "^[0-9]+(\\.[0-9]+)?(ms|s|m|h)$": "a duration such as 500ms, 30s, 2m or 1h",
    "^[a-z][a-z0-9_]*(@[1-9][0-9]*)?$": "a handoff reference such as 'brief' or 'brief@2'",
    "^[1-9][0-9]*$": "a version number (1, 2, ...)",
    "^https?://": "an http:// or https:// URL",
    "^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$": "'package.module:function'",
    "^https?://[^\\s/]+[^\\s]*$": "an http:// or https:// URL",
    "^[A-Za-z_][A-Za-z0-9_]*$": "the name of an environment variable (letters, digits, '_')",
}
# numeric bounds, as a message says them
_BOUND_WORDS = {
    "minimum": "at least",
    "maximum": "at most",
    "exclusiveMinimum": "greater than",
    "exclusiveMaximum": "less than",
}
# keys of which a mapping takes at most one, by the mapping's schema (`not: {required}`)
_EXCLUSIVE = {"llm": ("system", "system_file")}


@cache
def spec_format_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of the spec format, shipped in the package."""
    # beside this module, read directly: importlib.resources costs `baton lint` ~10 ms of
    # imports (zipfile, tempfile...) for a package that is never imported from a zip
    text = (Path(__file__).parent / "data" / "spec.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(spec_format_schema())


def _describe(value: JSON) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "a mapping"


def _where(path: list[str | int]) -> str:
    return "at the top level" if not path else "in '" + ".".join(str(p) for p in path) + "'"


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None


def _allowed_keys(schema_path: list[str | int]) -> list[str]:
    """The keys a mapping allows, read from the schema node an error came from."""
    node: Any = spec_format_schema()
    for part in schema_path[:-1]:
        found = _child(node, part)
        if found is None:
            return []
        node = found
    props = node.get("properties", {}) if isinstance(node, dict) else {}
    return sorted(props)


def _key_span(root: YNode, path: list[str | int]) -> Span | None:
    """Where the key naming the node at `path` is written (a mapping's own start is its
    first child key, which would blame the wrong line)."""
    if not path:
        return None
    parent = node_at(root, path[:-1])
    key = parent.key_node(str(path[-1])) if isinstance(parent, YMap) else None
    return key.span if key else None


def _message(error: Any, root: YNode) -> tuple[Span, str] | None:
    kind = error.kind
    name = kind.name
    path: list[str | int] = list(error.instance_path)
    node = node_at(root, path)
    where = _where(path)
    if name == "additionalProperties":
        assert isinstance(node, YMap)
        allowed = _allowed_keys(list(error.schema_path))
        first = None
        parts = []
        for key in kind.unexpected:
            key_node = node.key_node(str(key))
            first = first or (key_node.span if key_node else node.span)
            parts.append(f"unknown key '{key}' {where}{did_you_mean(str(key), allowed)}")
        return first or node.span, "; ".join(parts) + f"; expected one of {choices_text(allowed)}"
    if name == "required":
        return _key_span(root, path) or node.span, f"missing required key '{kind.property}' {where}"
    if name == "type":
        expected = " or ".join(_TYPE_WORDS.get(t, t) for t in kind.types)
        return node.span, f"expected {expected} {where}, got {_describe(node.data)}"
    if name == "enum":
        return node.span, (
            f"invalid value {json.dumps(node.data)} {where}; "
            f"expected one of {choices_text(str(o) for o in kind.options)}"
        )
    if name == "const":
        return node.span, f"invalid value {json.dumps(node.data)} {where}; expected {kind.value}"
    if name == "pattern":
        wanted = _PATTERN_WORDS.get(kind.pattern, f"text matching {kind.pattern}")
        return node.span, f"invalid value {json.dumps(node.data)} {where}; expected {wanted}"
    if name == "propertyNames":
        bad = kind.error.instance
        key_node = node.key_node(str(bad)) if isinstance(node, YMap) else None
        pattern = getattr(kind.error.kind, "pattern", "")
        wanted = _PATTERN_WORDS.get(pattern, "a valid name")
        span = key_node.span if key_node else node.span
        return span, f"invalid name '{bad}' {where}; expected {wanted}"
    if name in _BOUND_WORDS:
        return node.span, (
            f"invalid value {json.dumps(node.data)} {where}; expected a number "
            f"{_BOUND_WORDS[name]} {kind.limit}"
        )
    if name == "minLength" and kind.limit == 1:
        return node.span, f"empty value {where}; expected a non-empty string"
    if name == "not" and (keys := _EXCLUSIVE.get(str(list(error.schema_path)[-2]))):
        kept, dropped = keys
        return _key_span(root, [*path, dropped]) or node.span, (
            f"'{kept}' and '{dropped}' are exclusive {where}; keep one"
        )
    if name in {"minProperties", "maxProperties"} and list(error.schema_path)[-2:-1] == ["run"]:
        kinds = _allowed_keys(list(error.schema_path))
        return node.span, f"'run' takes exactly one of {choices_text(kinds)}"
    if name.startswith("oneOf"):
        # report the branch of the value's own type (a list of names: its bad item)
        for branch in getattr(kind, "context", None) or []:
            if branch and not any(
                e.kind.name == "type" and list(e.instance_path) == path for e in branch
            ):
                return _message(branch[0], root)
        return node.span, f"invalid value {where}: expected a name or a list of names"
    return node.span, f"invalid value {where}: {error.message}"


def check_structure(root: YNode) -> list[Problem]:
    """Everything in one file's root node that does not match the spec format."""
    problems = []
    for error in _validator().iter_errors(root.data):
        described = _message(error, root)
        if described:
            problems.append(Problem(*described))
    return problems
