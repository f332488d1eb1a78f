"""Which values of a run are untrusted, and which of them reached a step's input.

A value is untrusted when a schema marks it `x-baton-trust: untrusted` (the workflow's
`inputs`, or a step's output handoff), or when it is the output of a step whose input
received untrusted data: taint follows handoffs. Paths are dotted from a template
scope name, `*` standing for every key or index ("inputs.channel_history",
"steps.research.output", "inputs.messages.*.text"), the form `runtime.render` takes.

A step's rendered input tells which untrusted values reached it: the sanitizer wrapped
each in `<untrusted source="...">`, and content cannot forge that tag
(`runtime.sanitize`). Those sources, mapped back to the paths above, are the step's
`untrusted_sources`; a committed step with any is itself an untrusted source.

Unlike lint rule B403, an approval does not clear taint here: B403 asks whether a
person looked before an irreversible effect; sanitizing protects the next agent's
prompt, which an approval does not change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from baton.runtime.model import JSON, Workflow
from baton.runtime.sanitize import CLOSE_TAG

TRUST_KEY = "x-baton-trust"
_TAG = re.compile(r'<untrusted source="([A-Za-z0-9_.%\-]*)">')
_MAX_DEPTH = 32


def schema_paths(schema: JSON) -> list[str]:
    """Dotted paths below a schema's root that it marks untrusted ("" is the root).

    Follows `properties`, `items`, `prefixItems`, `additionalProperties`, the
    combinators and local `$ref`s (`#/$defs/...`).

    >>> schema_paths({"properties": {"a": {"x-baton-trust": "untrusted"},
    ...               "b": {"items": {"properties": {"t": {"x-baton-trust": "untrusted"}}}}}})
    ['a', 'b.*.t']
    """
    found: list[str] = []
    _walk(schema, schema, [], found, 0)
    return sorted(set(found))


def _walk(node: JSON, root: JSON, path: list[str], found: list[str], depth: int) -> None:
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return
    if node.get(TRUST_KEY) == "untrusted":
        found.append(".".join(path))
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: JSON = root
        for token in ref[2:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            target = target.get(token) if isinstance(target, dict) else None
        _walk(target, root, path, found, depth + 1)
    properties = node.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            _walk(sub, root, [*path, str(name)], found, depth + 1)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            _walk(node[key], root, [*path, "*"], found, depth + 1)
    prefix = node.get("prefixItems")
    if isinstance(prefix, list):
        for index, sub in enumerate(prefix):
            _walk(sub, root, [*path, str(index)], found, depth + 1)
    for key in ("allOf", "anyOf", "oneOf"):
        branches = node.get(key)
        if isinstance(branches, list):
            for sub in branches:
                _walk(sub, root, path, found, depth + 1)


def _pointer_path(pointer: str) -> str:
    """A JSON pointer as a dotted path: "/a/b~1c" -> "a.b/c"."""
    tokens = pointer.split("/")[1:] if pointer else []
    return ".".join(t.replace("~1", "/").replace("~0", "~") for t in tokens)


def _joined(head: str, tail: str) -> str:
    return f"{head}.{tail}" if tail else head


Static = tuple[tuple[str, ...], dict[str, tuple[str, ...]]]
# id -> (the workflow, kept alive so its id is not reused; its paths)
_STATIC: dict[int, tuple[Workflow, Static]] = {}


def static_paths(workflow: Workflow) -> Static:
    """(untrusted paths of the run input, step id -> untrusted paths of its output),
    from the schemas alone; computed once per workflow object."""
    known = _STATIC.get(id(workflow))
    if known is None or known[0] is not workflow:
        if len(_STATIC) > 64:
            _STATIC.clear()
        known = _STATIC[id(workflow)] = (workflow, _static_paths(workflow))
    return known[1]


def _static_paths(workflow: Workflow) -> Static:
    inputs = {_joined("inputs", p) for p in schema_paths(workflow.inputs_schema)}
    inputs.update(_joined("inputs", _pointer_path(p)) for p in workflow.untrusted_inputs)
    outputs: dict[str, tuple[str, ...]] = {}
    for step in workflow.steps:
        if step.output is not None:
            marked = schema_paths(step.output.schema)
            if marked:
                outputs[step.id] = tuple(_joined(f"steps.{step.id}.output", p) for p in marked)
    return tuple(sorted(inputs)), outputs


def untrusted_paths(workflow: Workflow, tainted_steps: Iterable[str] = ()) -> tuple[str, ...]:
    """Every untrusted path of a run: the schemas' marks, and the whole output of each
    step in `tainted_steps` (committed steps that received untrusted data)."""
    inputs, outputs = static_paths(workflow)
    tainted = set(tainted_steps)
    if not tainted and not outputs:
        return inputs  # the common case, at every attempt: nothing beyond the inputs
    paths = list(inputs)
    for step in workflow.steps:
        if step.id in tainted:
            paths.append(f"steps.{step.id}.output")
        else:
            paths.extend(outputs.get(step.id, ()))
    return tuple(paths)


def found_sources(rendered: JSON) -> list[str]:
    """The `source` of every untrusted wrapper in a rendered input, in order.

    >>> found_sources({"a": ['x <untrusted source="inputs.h">t</untrusted>']})
    ['inputs.h']
    """
    found: list[str] = []
    for text in _strings(rendered):
        if CLOSE_TAG in text:
            found.extend(_decode(m.group(1)) for m in _TAG.finditer(text))
    return found


def untrusted_sources(rendered: JSON, paths: Iterable[str]) -> tuple[str, ...]:
    """The untrusted paths whose values reached `rendered`, sorted.

    A wrapper's source is the leaf path it was rendered from; it is reported as the
    configured path it falls under ("steps.research.output.sources.0" ->
    "steps.research.output").

    >>> untrusted_sources(['<untrusted source="inputs.m.3.text">x</untrusted>'],
    ...                   ["inputs.m.*.text"])
    ('inputs.m.*.text',)
    """
    known = [tuple(path.split(".")) for path in paths]
    reached: set[str] = set()
    for source in found_sources(rendered):
        parts = tuple(source.split("."))
        match = next((path for path in known if _covers(path, parts)), None)
        reached.add(".".join(match) if match is not None else source)
    return tuple(sorted(reached))


def _covers(path: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    if len(path) > len(parts):
        return False
    return all(p == "*" or p == q for p, q in zip(path, parts, strict=False))


def _decode(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


__all__ = [
    "found_sources",
    "schema_paths",
    "static_paths",
    "untrusted_paths",
    "untrusted_sources",
]
