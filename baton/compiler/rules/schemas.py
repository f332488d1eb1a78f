"""Schema rules: handoff and input schemas are valid, resolvable, tight, and referenced
handoffs exist."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from baton.compiler import ir
from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Report, choices_text, did_you_mean
from baton.compiler.span import Span
from baton.compiler.yamlnodes import JSON, YMap, YNode, node_at


def _schemas(ctx: LintContext) -> Iterator[tuple[str, ir.Schema]]:
    """(label, schema) for every inputs schema and handoff version, each once."""
    for workflow in ctx.spec.workflows.values():
        if workflow.inputs:
            yield f"inputs of workflow '{workflow.name}'", workflow.inputs
        for handoff in workflow.handoffs.values():
            for version in handoff.versions.values():
                yield f"handoff '{handoff.name}@{version.version}'", version.schema


def _span_in(schema: ir.Schema, path: list[str | int]) -> Span:
    return node_at(schema.node, path).span if schema.node is not None else schema.span


def invalid_schema(ctx: LintContext, report: Report) -> None:
    """A schema is not valid JSON Schema (draft 2020-12): checked against the meta-schema.

    Why: an invalid schema validates nothing, or fails the run when first used.

    Example: `type: strng` in a handoff.
    """
    import jsonschema_rs

    for label, schema in _schemas(ctx):
        try:
            jsonschema_rs.meta.validate(schema.value)  # type: ignore[arg-type]
        except jsonschema_rs.ValidationError as error:
            path = list(error.instance_path)
            report(
                _span_in(schema, path),
                f"{label} is not a valid JSON Schema at '/{'/'.join(map(str, path))}': "
                f"{_unknown_type(schema.value, path) or _meta_message(error)}",
            )
        except jsonschema_rs.ReferencingError as error:
            report(schema.span, f"{label}: {error}")
        else:
            # the meta-schema treats `format: regex` as an annotation; the validator
            # compiling the schema at run time does not
            for path, pattern in _patterns(schema.value, []):
                if not _is_regex(pattern):
                    where = "/" + "/".join(map(str, path))
                    report(
                        _key_span_in(schema, path),
                        f"{label} is not a valid JSON Schema at '{where}': "
                        f"{json.dumps(pattern)} is not a valid regular expression",
                    )


# the longest value a B301 message quotes; a longer one is described, never echoed
_QUOTED_CHARS = 40


def _meta_message(error: Any) -> str:
    """The meta-schema's complaint, quoting the value at fault only when it is short.

    The validator's messages start with the whole value (a `$ref`'d file that is not a
    schema would be quoted in full), so a long value is replaced by its description.
    """
    message = str(error.message)
    shown = json.dumps(error.instance, separators=(",", ":"), ensure_ascii=False)
    if len(shown) <= _QUOTED_CHARS:
        return message
    described = _describe(error.instance)
    if message.startswith(shown):
        return described + message[len(shown) :]
    keyword = next((str(k) for k in reversed(list(error.schema_path))), "a")
    return f"{described} fails the meta-schema's '{keyword}' keyword"


def _describe(value: object) -> str:
    """
    >>> _describe("x" * 50), _describe([1, 2]), _describe({"a": 1})
    ('a string of 50 characters', 'an array of 2 items', 'an object with 1 property')
    """
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, list):
        return f"an array of {len(value)} item{'s' * (len(value) != 1)}"
    if isinstance(value, dict):
        return f"an object with {len(value)} propert{'ies' if len(value) != 1 else 'y'}"
    return f"a {type(value).__name__}"


def _patterns(value: JSON, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    """Every regex of a schema: `pattern` values and `patternProperties` keys."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if key == "pattern" and isinstance(sub, str):
                yield [*path, key], sub
            elif key == "patternProperties" and isinstance(sub, dict):
                yield from (([*path, key, name], name) for name in sub)
            if key not in ("const", "enum", "default", "examples"):
                yield from _patterns(sub, [*path, key])
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from _patterns(sub, [*path, index])


@cache
def _is_regex(pattern: str) -> bool:
    """Whether the validator accepts a regex (its ECMA-262 dialect, not Python's).

    >>> _is_regex("^m_[a-z]+$"), _is_regex("[")
    (True, False)
    """
    import jsonschema_rs

    try:
        jsonschema_rs.validator_for({"pattern": pattern})
    except jsonschema_rs.ValidationError:
        return False
    return True


def _key_span_in(schema: ir.Schema, path: list[str | int]) -> Span:
    """Where a regex is written: a `patternProperties` key, or a `pattern` value."""
    if path[-2:-1] == ["patternProperties"] and schema.node is not None:
        parent = node_at(schema.node, path[:-1])
        key = parent.key_node(str(path[-1])) if isinstance(parent, YMap) else None
        if key is not None:
            return key.span
    return _span_in(schema, path)


_JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")


def _unknown_type(value: JSON, path: list[str | int]) -> str | None:
    """A clearer message than the meta-schema's `anyOf` one for `type: strng`.

    >>> _unknown_type({"type": "strng"}, ["type"]).split(";")[0]
    "unknown type 'strng' (did you mean 'string'?)"
    """
    if not path or path[-1] != "type":
        return None
    for part in path:
        if isinstance(value, dict) and isinstance(part, str):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            return None
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    unknown = [name for name in names if isinstance(name, str) and name not in _JSON_TYPES]
    if not unknown:
        return None
    return (
        f"unknown type '{unknown[0]}'{did_you_mean(unknown[0], _JSON_TYPES)}; "
        f"types are {choices_text(_JSON_TYPES)}"
    )


def unknown_handoff(ctx: LintContext, report: Report) -> None:
    """`output:` names a handoff or a version that the workflow does not define.

    Why: the step's output could not be validated; nothing downstream could trust it.

    Example: `output: brief@3` when `brief` has versions 1 and 2.
    """
    for workflow in ctx.spec.workflows.values():
        for step in workflow.steps.values():
            ref = step.output
            if ref is None or step.workflow is not None:
                continue  # a sub-workflow step's `output` is B002
            handoff = workflow.handoffs.get(ref.handoff)
            if handoff is None:
                report(
                    ref.span,
                    f"step '{step.id}' outputs unknown handoff '{ref.handoff}'"
                    f"{did_you_mean(ref.handoff, workflow.handoffs)}; handoffs are "
                    f"{choices_text(workflow.handoffs)}",
                )
            elif ref.version is not None and ref.version not in handoff.versions:
                report(
                    ref.span,
                    f"handoff '{ref.handoff}' has no version {ref.version}; versions are "
                    f"{', '.join(map(str, sorted(handoff.versions)))}",
                )


def _object_schemas(
    node: YNode | None, value: JSON, path: list[str | int]
) -> Iterator[tuple[list[str | int], dict[str, JSON]]]:
    """Object schemas in a schema: the root and nested properties, items and $defs."""
    if not isinstance(value, dict):
        return
    declared = value.get("type")
    if declared == "object" or (declared is None and "properties" in value):
        yield path, value
    for keyword in ("properties", "$defs", "patternProperties"):
        children = value.get(keyword)
        if isinstance(children, dict):
            for name, sub in children.items():
                yield from _object_schemas(None, sub, [*path, keyword, name])
    for keyword in ("items", "additionalProperties"):
        if isinstance(value.get(keyword), dict):
            yield from _object_schemas(None, value[keyword], [*path, keyword])
    for keyword in ("prefixItems", "allOf", "anyOf", "oneOf"):
        branches = value.get(keyword)
        if isinstance(branches, list):
            for index, sub in enumerate(branches):
                yield from _object_schemas(None, sub, [*path, keyword, index])


def loose_schema(ctx: LintContext, report: Report) -> None:
    """A handoff's object schema (at any depth) does not say explicitly which properties are
    `required` and whether others are allowed (`additionalProperties`).

    Why: a loose contract accepts outputs with missing or misspelt fields, which is how
    malformed handoffs slip through; explicit is cheap.

    Example: `{type: object, properties: {summary: {type: string}}}`.
    """
    for workflow in ctx.spec.workflows.values():
        for handoff in workflow.handoffs.values():
            for version in handoff.versions.values():
                schema = version.schema
                for path, value in _object_schemas(schema.node, schema.value, []):
                    missing = [k for k in ("required", "additionalProperties") if k not in value]
                    if missing and not _is_combinator_only(value):
                        where = "/" + "/".join(map(str, path))
                        report(
                            _span_in(schema, path),
                            f"loose object schema in handoff '{handoff.name}@{version.version}' "
                            f"at '{where}': no explicit {' or '.join(repr(m) for m in missing)}",
                        )


def _is_combinator_only(value: dict[str, JSON]) -> bool:
    return "properties" not in value and any(
        k in value for k in ("allOf", "anyOf", "oneOf", "$ref")
    )


def unresolved_ref(ctx: LintContext, report: Report) -> None:
    """A `$ref` in a schema cannot be resolved: the file does not exist, does not load, or
    the JSON pointer points at nothing. A ref to a URL or to a file outside the spec root
    is B004 instead; nothing is ever fetched.

    Why: validation of that part of the handoff would be impossible at run time.

    Example: `{$ref: schemas/brief.v3.json}` when only v1 and v2 exist.
    """
    for label, schema in _schemas(ctx):
        _refs_in(ctx, report, label, schema, schema.value, [], schema.base)


def _refs_in(
    ctx: LintContext,
    report: Report,
    label: str,
    schema: ir.Schema,
    value: JSON,
    path: list[str | int],
    base: Path,
) -> None:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str):
            resolved = ctx.store.resolve(ref, base, schema.value, schema.node)
            # a ref outside the spec root is a Refusal: rule B004 reports it
            if isinstance(resolved, str):
                report(
                    _span_in(schema, [*path, "$ref"]),
                    f"cannot resolve $ref in {label}: {resolved}",
                )
        for key, sub in value.items():
            if key not in ("const", "enum", "default", "examples"):
                _refs_in(ctx, report, label, schema, sub, [*path, key], base)
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            _refs_in(ctx, report, label, schema, sub, [*path, index], base)
