"""Render step inputs and evaluate expressions in jinja2's sandbox.

- A string leaf that is exactly one `{{ expr }}` yields the expression's native value
  (an object stays an object, a number stays a number); a leaf with text around its
  templates yields a string, where objects, arrays, booleans and null are written as
  JSON (`{"a": 1}`, `true`, `null`), not as Python reprs.
- `ImmutableSandboxedEnvironment`: no access to Python internals (`''.__class__`), no
  mutation of the values in scope. `StrictUndefined`: a name or key that does not exist
  is an error (`RenderError`), never an empty string; `x is defined` and
  `x | default(...)` still work.
- On a JSON object, `a.b` reads key "b" and never a dict method, so a handoff field
  called `items`, `keys` or `values` reads as data.
- Each template source is compiled once (an LRU cache keyed by its text), and plain
  reads (`{{ inputs.topic }}`, `Topic: {{ steps.a.output.x }}`) skip jinja altogether:
  same result, a fraction of the cost (a property test checks that the two agree).

Names in scope: `inputs` (the run input), `steps` (step id -> {"output": ...}), `run`
({"id", "workflow"}) and, in quality checks, `output`.

Untrusted values: `render_input(..., untrusted=..., sanitize=...)` passes every string
below each untrusted source path (e.g. "inputs.channel_history",
"steps.research.output") through `sanitize(source, text)` before any template sees it.
The sanitizer itself (issue 6) is not here; without one, values render unchanged.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Undefined
from jinja2.nodes import Output, TemplateData
from jinja2.sandbox import ImmutableSandboxedEnvironment

from baton.runtime.model import JSON, Quality, Template
from baton.runtime.validate import json_pointer

TEMPLATE_MARKERS = ("{{", "{%", "{#")

Sanitizer = Callable[[str, str], str]
"""`sanitize(source, text) -> text`: source is the dotted path the text came from
("inputs.channel_history", "steps.research.output.summary")."""


class RenderError(Exception):
    """A template or expression that cannot be evaluated; the message names it.

    `template` is the source as written, `where` the place it came from (a spec line
    or an input pointer), `reason` what went wrong.
    """

    def __init__(
        self, reason: str, template: str = "", where: str = "", path: list[str | int] | None = None
    ) -> None:
        self.reason = reason
        self.template = template
        self.where = where
        self.path = path or []  # where in the input tree, for render_input's templates
        prefix = f"{where}: " if where else ""
        named = f"template {template!r}: " if template else ""
        super().__init__(f"{prefix}{named}{reason}")

    @property
    def message(self) -> str:
        return str(self)


# -- the environment


class _JSONSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with JSON objects read by key before attribute."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict):
            # jinja tries the attribute first, so `output.items` would be dict.items
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, dict) and isinstance(argument, str):
            try:
                return obj[argument]
            except KeyError:
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)


class _StrictUndefined(StrictUndefined):
    """StrictUndefined whose message for a missing key lists the keys that exist."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        # built only when the error is raised: `x is defined` and `default()` stay cheap
        found, name = self._undefined_obj, self._undefined_name
        if self._undefined_hint is None and isinstance(found, dict) and isinstance(name, str):
            return _missing_key(found, name)
        return str(super()._undefined_message)


def _missing_key(found: dict[Any, Any], name: str) -> str:
    """
    >>> _missing_key({"topic": 1, "client": 2}, "topc")
    "no key 'topc' (keys: 'client', 'topic'); did you mean 'topic'?"
    """
    keys = sorted(str(key) for key in found)
    listed = ", ".join(repr(key) for key in keys[:20]) + (", ..." if len(keys) > 20 else "")
    message = f"no key {name!r} (keys: {listed})" if keys else f"no key {name!r} (no keys)"
    close = difflib.get_close_matches(name, keys, n=1)
    return message + (f"; did you mean {close[0]!r}?" if close else "")


def _finalize(value: Any) -> Any:
    """How a `{{ }}` inside text prints: JSON for objects, arrays, booleans and null."""
    if value is None or isinstance(value, bool | dict | list | tuple):
        return json.dumps(value, ensure_ascii=False)
    return value


_environment = _JSONSandbox(
    undefined=_StrictUndefined,
    finalize=_finalize,
    keep_trailing_newline=True,  # a text leaf keeps its final newline
    autoescape=False,  # JSON and prompts, not HTML
)


# -- compiling (once per source)


@lru_cache(maxsize=4096)
def _compile_expression(source: str) -> Callable[[Mapping[str, Any]], Any]:
    expression = _environment.compile_expression(source, undefined_to_none=False)
    return lambda scope: expression(scope)


@lru_cache(maxsize=4096)
def _compile_leaf(source: str) -> tuple[bool, Callable[[Mapping[str, Any]], Any]]:
    """(native, evaluate) for a template string leaf."""
    inner = _single_expression(source)
    if inner is not None:
        return True, _compile_expression(inner)
    template = _environment.from_string(source)
    return False, lambda scope: template.render(scope)


# The common leaf is a plain read (`{{ inputs.topic }}`, `Topic: {{ steps.a.output.x }}`).
# Reading those straight from the scope gives the same result as jinja at a tenth of
# the cost (jinja builds a context per call); anything else, and any read that does not
# resolve through JSON objects and arrays, takes jinja's path, errors included.
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_READ = re.compile(rf"\{{\{{\s*({_NAME}(?:\.{_NAME}|\[[0-9]+\])*)\s*\}}\}}")
_PART = re.compile(rf"\.({_NAME})|\[([0-9]+)\]")
_KEYWORDS = frozenset({"true", "false", "none", "True", "False", "None", "not"})
_UNRESOLVED: Any = object()

Path = tuple[str | int, ...]


@lru_cache(maxsize=4096)
def _plain_reads(source: str) -> tuple[tuple[tuple[str, Path], ...], str] | None:
    """((text before, path read), ...) and the trailing text, if the leaf is only that.

    >>> _plain_reads("a {{ steps.x.output[0] }}!")
    ((('a ', ('steps', 'x', 'output', 0)),), '!')
    """
    pieces: list[tuple[str, Path]] = []
    position = 0
    for match in _READ.finditer(source):
        text = source[position : match.start()]
        if is_template(text):
            return None
        reference = match.group(1)
        root = re.match(_NAME, reference)
        assert root is not None
        if root.group(0) in _KEYWORDS:
            return None
        parts: Path = tuple(
            name if name else int(index) for name, index in _PART.findall(reference, root.end())
        )
        pieces.append((text, (root.group(0), *parts)))
        position = match.end()
    tail = source[position:]
    if not pieces or is_template(tail):
        return None
    return tuple(pieces), tail


def _read(scope: Mapping[str, Any], path: Path) -> Any:
    """The value at `path`, through JSON objects and arrays only; else _UNRESOLVED."""
    value: Any = scope
    for part in path:
        if isinstance(part, str):
            if not (isinstance(value, Mapping) and part in value):
                return _UNRESOLVED
        elif not (isinstance(value, list | tuple) and part < len(value)):
            return _UNRESOLVED
        value = value[part]
    return value


def _fast_render(source: str, scope: Mapping[str, Any]) -> Any:
    """The leaf rendered without jinja, or _UNRESOLVED when it needs jinja."""
    plan = _plain_reads(source)
    if plan is None:
        return _UNRESOLVED
    pieces, tail = plan
    if len(pieces) == 1 and not pieces[0][0] and not tail:
        value = _read(scope, pieces[0][1])
        return value if value is _UNRESOLVED else _to_json(value)
    out: list[str] = []
    for text, path in pieces:
        value = _read(scope, path)
        if value is _UNRESOLVED:
            return _UNRESOLVED
        out.append(text)
        out.append(str(_finalize(value)))  # what jinja writes for it
    out.append(tail)
    return "".join(out)


def _single_expression(source: str) -> str | None:
    """The expression of a leaf that is exactly one `{{ expr }}`, else None.

    >>> _single_expression("{{ steps.a.output }}"), _single_expression("{{ a }} {{ b }}")
    (' steps.a.output ', None)
    """
    if not (source.startswith("{{") and source.endswith("}}")):
        return None
    body = _environment.parse(source).body
    if len(body) != 1 or not isinstance(body[0], Output):
        return None
    nodes = body[0].nodes
    if len(nodes) != 1 or isinstance(nodes[0], TemplateData):
        return None
    inner = source[2:-2]
    # `{{- x -}}`: the dashes (and pluses) are whitespace control, not part of x
    if inner[:1] in "-+":
        inner = inner[1:]
    if inner[-1:] in "-+":
        inner = inner[:-1]
    return inner


# -- public API


def is_template(text: str) -> bool:
    """Whether a string leaf holds template syntax (else it is used as written).

    >>> is_template("{{ inputs.topic }}"), is_template("plain")
    (True, False)
    """
    return any(marker in text for marker in TEMPLATE_MARKERS)


def render_input(
    tree: JSON,
    scope: Mapping[str, Any],
    *,
    untrusted: Collection[str] = (),
    sanitize: Sanitizer | None = None,
    where: str = "",
    templates: Collection[tuple[tuple[str | int, ...], Template]] = (),
) -> JSON:
    """The step input with every template leaf rendered; a new tree, JSON only.

    `where` prefixes error messages ("step 'research'"); `templates` (a compiled step's
    `Step.templates`: each leaf's path and `Template`) lets an error name the spec line
    of the leaf that failed.

    >>> render_input({"t": "{{ inputs.topic }}", "n": "{{ inputs.n }}", "s": "n={{ inputs.n }}"},
    ...              {"inputs": {"topic": "tea", "n": 2}})
    {'t': 'tea', 'n': 2, 's': 'n=2'}
    """
    scope = sanitized_scope(scope, untrusted, sanitize)
    try:
        return _render_tree(tree, scope, [], where)
    except RenderError as error:
        spec = next((t.spec for path, t in templates if list(path) == error.path), "")
        if not spec:
            raise
        raise RenderError(error.reason, error.template, f"{error.where}, {spec}") from None


def evaluate(source: str | Template, scope: Mapping[str, Any]) -> Any:
    """The value of a bare expression (`if:`, quality checks): native, not converted.

    A `Template` that is not an expression (a `{{ }}` string) renders like an input leaf.

    >>> evaluate("output.verdict == 'pass'", {"output": {"verdict": "pass"}})
    True
    """
    text, label = _source(source)
    try:
        if isinstance(source, Template) and not source.is_expression:
            run = _compile_leaf(text)[1]
        else:
            run = _compile_expression(text)
        value = run(scope)
        if isinstance(value, Undefined):
            str(value)  # raises the UndefinedError that says which name is missing
    except RenderError:
        raise
    except Exception as error:
        raise RenderError(_reason(error), text, label) from None
    return value


def evaluate_condition(source: str | Template, scope: Mapping[str, Any]) -> bool:
    """An `if:` expression's truth; an undefined name is a RenderError, not false."""
    value = evaluate(source, scope)
    text, label = _source(source)
    try:
        return bool(value)
    except Exception as error:
        raise RenderError(_reason(error), text, label) from None


def quality_score(quality: Quality, scope: Mapping[str, Any]) -> float:
    """The weighted share of checks that hold, in [0, 1].

    A check that raises (an undefined name, a type error) counts as not holding: a
    quality check is a question about the output, and "cannot tell" is not "yes".
    No checks (or zero total weight) scores 1.0.
    """
    total = sum(max(check.weight, 0.0) for check in quality.checks)
    if total <= 0:
        return 1.0
    held = 0.0
    for check in quality.checks:
        try:
            holds = bool(evaluate(check.expr, scope))
        except Exception:
            holds = False
        if holds:
            held += max(check.weight, 0.0)
    return held / total


def sanitized_scope(
    scope: Mapping[str, Any], untrusted: Collection[str], sanitize: Sanitizer | None
) -> Mapping[str, Any]:
    """`scope` with every string below an untrusted path passed through `sanitize`.

    Paths are dotted from a scope name: "inputs.channel_history",
    "steps.research.output", "inputs.messages.*.text" (`*`: every key or index). Only
    the containers on the way are copied; the caller's values are never modified. A
    path below another untrusted path is sanitized once, by the outer one.

    >>> tag = lambda source, text: f"<{source}>{text}"
    >>> sanitized_scope({"inputs": {"a": "x", "b": ["y"]}}, ["inputs.b"], tag)
    {'inputs': {'a': 'x', 'b': ['<inputs.b.0>y']}}
    """
    if sanitize is None or not untrusted:
        return scope
    kept: list[list[str]] = []
    for path in sorted({tuple(p.split(".")) for p in untrusted}):
        if not any(path[: len(outer)] == tuple(outer) for outer in kept):
            kept.append(list(path))
    out = dict(scope)
    for parts in kept:
        root = parts[0]
        if root in out:
            out[root] = _sanitize_at(out[root], parts[1:], root, sanitize)
    return out


# -- helpers


def _render_tree(tree: JSON, scope: Mapping[str, Any], path: list[str | int], where: str) -> JSON:
    if isinstance(tree, str):
        if not is_template(tree):
            return tree
        return _render_leaf(tree, tree, scope, path, where)
    if isinstance(tree, Template):
        return _render_leaf(tree.source, tree, scope, path, where)
    if isinstance(tree, dict):
        return {key: _render_tree(value, scope, [*path, key], where) for key, value in tree.items()}
    if isinstance(tree, list | tuple):
        return [_render_tree(item, scope, [*path, index], where) for index, item in enumerate(tree)]
    return tree


def _render_leaf(
    text: str, leaf: str | Template, scope: Mapping[str, Any], path: list[str | int], where: str
) -> JSON:
    try:
        fast = _fast_render(text, scope)
        if fast is not _UNRESOLVED:
            return fast
        native, run = _compile_leaf(text)
        value = run(scope)
        return _to_json(value) if native else value
    except Exception as error:
        raise RenderError(_reason(error), text, _label(leaf, where, path), path) from None


def _to_json(value: Any) -> JSON:
    """A native template result as plain JSON (new containers; no jinja objects)."""
    if isinstance(value, Undefined):
        str(value)  # raises, naming the missing name
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return str(value)  # Markup and other str subclasses become plain str
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a JSON number")
        return value
    if isinstance(value, dict):
        out: dict[str, JSON] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"object keys must be strings, not {type(key).__name__}")
            out[key] = _to_json(item)
        return out
    if isinstance(value, list | tuple):
        return [_to_json(item) for item in value]
    raise TypeError(f"the value is a {type(value).__name__}, not JSON")


def _sanitize_at(value: Any, rest: list[str], source: str, sanitize: Sanitizer) -> Any:
    if not rest:
        return _sanitize_all(value, source, sanitize)
    head, tail = rest[0], rest[1:]
    if isinstance(value, dict):
        keys = list(value) if head == "*" else [head] if head in value else []
        if not keys:
            return value
        copy = dict(value)
        for key in keys:
            copy[key] = _sanitize_at(value[key], tail, f"{source}.{key}", sanitize)
        return copy
    if isinstance(value, list | tuple):
        indexes = (
            range(len(value))
            if head == "*"
            else [int(head)]
            if head.isdigit() and int(head) < len(value)
            else []
        )
        items = list(value)
        for index in indexes:
            items[index] = _sanitize_at(value[index], tail, f"{source}.{index}", sanitize)
        return items if indexes else value
    return value


def _sanitize_all(value: Any, source: str, sanitize: Sanitizer) -> Any:
    if isinstance(value, str):
        return sanitize(source, value)
    if isinstance(value, dict):
        return {k: _sanitize_all(v, f"{source}.{k}", sanitize) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_sanitize_all(v, f"{source}.{i}", sanitize) for i, v in enumerate(value)]
    return value


def _source(source: str | Template) -> tuple[str, str]:
    if isinstance(source, Template):
        return source.source, source.spec
    return source, ""


def _label(leaf: str | Template, where: str, path: list[str | int]) -> str:
    spec = leaf.spec if isinstance(leaf, Template) else ""
    pointer = json_pointer(path)
    place = f"input {pointer}" if pointer else "input"
    return ", ".join(part for part in (where, spec, place) if part)


def _reason(error: Exception) -> str:
    """A user-facing reason: jinja's message, or the Python error's, with its kind."""
    from jinja2 import TemplateError, TemplateSyntaxError, UndefinedError
    from jinja2.exceptions import SecurityError

    if isinstance(error, UndefinedError):
        return f"undefined: {error.message}"
    if isinstance(error, SecurityError):
        return f"forbidden by the sandbox: {error.message}"
    if isinstance(error, TemplateSyntaxError):
        return f"syntax error: {error.message}"
    if isinstance(error, TemplateError):
        return error.message or type(error).__name__
    return f"{type(error).__name__}: {error}"


__all__ = [
    "RenderError",
    "Sanitizer",
    "evaluate",
    "evaluate_condition",
    "is_template",
    "quality_score",
    "render_input",
    "sanitized_scope",
]
