"""Parse templates and expressions with jinja2's sandbox; extract their references.

A reference is a name with a constant access path (`steps.research.output.a.b[0]`);
the data-flow rules check each against the producer's schema. Constructs the runtime's
sandbox forbids (statements, calls, private attributes, unknown filters) are B010.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

TEMPLATE_MARKERS = ("{{", "{%", "{#")


@dataclass(frozen=True)
class Reference:
    """A read of a name and a constant path below it, as written."""

    root: str
    path: tuple[str | int, ...]
    lineno: int

    @property
    def text(self) -> str:
        """The reference as a user would write it.

        >>> Reference("steps", ("a", "output", "b", 0), 1).text
        'steps.a.output.b[0]'
        >>> Reference("inputs", ("field-with-dash",), 1).text
        "inputs['field-with-dash']"
        """
        out = self.root
        for part in self.path:
            if isinstance(part, int):
                out += f"[{part}]"
            else:  # a key that is not a name can only be written as a subscript
                out += f".{part}" if part.isidentifier() else f"[{part!r}]"
        return out


@dataclass(frozen=True)
class ParsedTemplate:
    """References of a template, or the reason it does not parse (B010)."""

    references: tuple[Reference, ...]
    error: str | None = None
    error_lineno: int = 1


def is_template(text: str) -> bool:
    """Whether a string leaf holds template syntax.

    >>> is_template("{{ inputs.topic }}"), is_template("plain")
    (True, False)
    """
    return any(marker in text for marker in TEMPLATE_MARKERS)


@cache
def _environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(undefined=StrictUndefined)


class _Extractor:
    """Walks a jinja2 AST collecting references and sandbox violations."""

    def __init__(self, env: Any) -> None:
        from jinja2 import nodes

        self.nodes = nodes
        self.env = env
        self.references: list[Reference] = []
        self.problems: list[tuple[str, int]] = []

    def chain(self, node: Any) -> tuple[str, tuple[str | int, ...]] | None:
        """(root, path) when node is a constant access chain on a name."""
        nodes = self.nodes
        parts: list[str | int] = []
        while True:
            if isinstance(node, nodes.Getattr):
                parts.append(node.attr)
                node = node.node
            elif (
                isinstance(node, nodes.Getitem)
                and isinstance(node.arg, nodes.Const)
                and isinstance(node.arg.value, str | int)
                and not isinstance(node.arg.value, bool)
            ):
                parts.append(node.arg.value)
                node = node.node
            elif isinstance(node, nodes.Name):
                return node.name, tuple(reversed(parts))
            else:
                return None

    def visit(self, node: Any) -> None:
        nodes = self.nodes
        lineno = getattr(node, "lineno", 1) or 1
        if isinstance(node, nodes.Call):
            self.problems.append(("function and method calls are not allowed", lineno))
        elif isinstance(node, nodes.Filter | nodes.Test):
            table = self.env.filters if isinstance(node, nodes.Filter) else self.env.tests
            if node.name not in table:
                what = "filter" if isinstance(node, nodes.Filter) else "test"
                self.problems.append((f"unknown {what} '{node.name}'", lineno))
        if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
            found = self.chain(node)
            if found is not None:
                root, path = found
                private = [p for p in path if isinstance(p, str) and p.startswith("_")]
                if private or root.startswith("_"):
                    self.problems.append(
                        (f"access to private name '{(private or [root])[0]}' is forbidden", lineno)
                    )
                self.references.append(Reference(root, path, lineno))
                return
        for child in node.iter_child_nodes():
            self.visit(child)


def _statements_problem(template: Any, nodes: Any) -> tuple[str, int] | None:
    for statement in template.body:
        if not isinstance(statement, nodes.Output):
            return "statements ({% ... %}) are not allowed; use {{ expressions }}", statement.lineno
    return None


_NAME = r"[A-Za-z][A-Za-z0-9_]*"
_PURE_REFERENCE = re.compile(rf"\s*({_NAME}(?:\.{_NAME}|\[[0-9]+\])*)\s*")
_SEGMENT = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_NAME_RE = re.compile(_NAME)
# a whole template that is one segment: what _SEGMENT would find, with nothing around it
_WHOLE = re.compile(r"\{\{((?:(?!\}\}).)*)\}\}", re.DOTALL)
_JINJA_WORDS = frozenset(
    [
        "true",
        "false",
        "none",
        "True",
        "False",
        "None",
        "and",
        "or",
        "not",
        "in",
        "is",
        "if",
        "else",
        "recursive",
    ]
)
_PART = re.compile(rf"\.({_NAME})|\[([0-9]+)\]")


def _pure_reference(text: str, lineno: int) -> Reference | None:
    match = _PURE_REFERENCE.fullmatch(text)
    if match is None:
        return None
    path = match.group(1)
    if _JINJA_WORDS.intersection(_NAME_RE.findall(path)):
        return None  # `true`, `none`, `not`... are literals or operators to jinja
    root = _NAME_RE.match(path)
    assert root is not None
    parts: tuple[str | int, ...] = tuple(
        name if name else int(index) for name, index in _PART.findall(path, root.end())
    )
    return Reference(root.group(0), parts, lineno)


def _fast_parse(source: str, is_expression: bool) -> ParsedTemplate | None:
    """References of the common case, plain `{{ a.b[0] }}` reads, without jinja's parser.

    Returns None for anything else (filters, operators, literals...), which then takes
    the full parse; the two agree on every template this accepts (a test checks).
    """
    if is_expression:
        reference = _pure_reference(source, 1)
        return ParsedTemplate((reference,)) if reference else None
    whole = _WHOLE.fullmatch(source)
    if whole is not None:  # the most common template, `{{ steps.a.output.b }}` alone
        reference = _pure_reference(whole.group(1), 1)
        return ParsedTemplate((reference,)) if reference else None
    references = []
    for match in _SEGMENT.finditer(source):
        reference = _pure_reference(match.group(1), source.count("\n", 0, match.start()) + 1)
        if reference is None:
            return None
        references.append(reference)
    rest = _SEGMENT.sub("", source)
    if not references or any(marker in rest for marker in TEMPLATE_MARKERS):
        return None
    return ParsedTemplate(tuple(references))


@lru_cache(maxsize=65536)
def parse_template(source: str, is_expression: bool) -> ParsedTemplate:
    """Parse a template (or a bare expression) and extract its references."""
    fast = _fast_parse(source, is_expression)
    if fast is not None:
        return fast
    from jinja2 import nodes
    from jinja2.exceptions import TemplateSyntaxError
    from jinja2.parser import Parser

    env = _environment()
    try:
        if is_expression:
            parser = Parser(env, source, state="variable")
            tree = parser.parse_expression()
            if not parser.stream.eos:
                token = parser.stream.current
                return ParsedTemplate((), f"unexpected '{token.value}' after the expression")
            problem = None
        else:
            tree = env.parse(source)
            problem = _statements_problem(tree, nodes)
    except TemplateSyntaxError as error:
        message = (error.message or "syntax error").rstrip(".")
        return ParsedTemplate((), message, error.lineno or 1)
    extractor = _Extractor(env)
    extractor.visit(tree)
    if problem is None and extractor.problems:
        problem = extractor.problems[0]
    references = tuple(extractor.references)
    if problem:
        return ParsedTemplate(references, problem[0], problem[1])
    return ParsedTemplate(references)
