"""The comparisons a `route:` case's `when` makes: `ref == 'literal'`, `ref != ...`,
`ref in ['a', 'b']` (either side), for the route rules to check against the compared
field's `enum`/`const` and for exhaustiveness.

Only comparisons of one reference with constants are extracted; anything else (two
references, a filter, arithmetic) is left to the run time, as the linter cannot tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from baton.compiler.templates import Reference

_OPS = {"eq": "==", "ne": "!=", "in": "in", "notin": "not in"}


@dataclass(frozen=True)
class Comparison:
    """`reference op literals` (one literal for ==/!=, the list's for in/not in)."""

    reference: Reference
    op: str  # ==, !=, in, not in
    literals: tuple[object, ...]


@dataclass(frozen=True)
class Shape:
    """What a whole `when` is, when it is simple: `ref == lit` or `ref in [lits]`
    (the values it selects), for exhaustiveness; None fields when it is anything else."""

    reference: Reference | None
    values: tuple[object, ...]


def _parse(source: str) -> Any | None:
    from jinja2.exceptions import TemplateSyntaxError
    from jinja2.parser import Parser

    from baton.compiler.templates import _environment

    try:
        parser = Parser(_environment(), source, state="variable")
        tree = parser.parse_expression()
    except TemplateSyntaxError:
        return None  # B010 reports it
    return tree if parser.stream.eos else None


def _reference(node: Any) -> Reference | None:
    from jinja2 import nodes

    parts: list[str | int] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            value = node.arg.value
            if not isinstance(value, str | int) or isinstance(value, bool):
                return None
            parts.append(value)
            node = node.node
        elif isinstance(node, nodes.Name):
            return Reference(node.name, tuple(reversed(parts)), node.lineno or 1)
        else:
            return None


def _literals(node: Any) -> tuple[object, ...] | None:
    """A constant, or a list/tuple of constants, as a tuple; None otherwise."""
    from jinja2 import nodes

    if isinstance(node, nodes.Const):
        return (node.value,)
    if isinstance(node, nodes.List | nodes.Tuple) and all(
        isinstance(item, nodes.Const) for item in node.items
    ):
        return tuple(item.value for item in node.items if isinstance(item, nodes.Const))
    return None


def _comparison(node: Any) -> Comparison | None:
    from jinja2 import nodes

    if not isinstance(node, nodes.Compare) or len(node.ops) != 1:
        return None
    operand = node.ops[0]
    op = _OPS.get(operand.op)
    if op is None:
        return None
    left, right = node.expr, operand.expr
    reference, literals = _reference(left), _literals(right)
    if reference is None and op in ("==", "!="):  # `'bug' == steps.x.output.kind`
        reference, literals = _reference(right), _literals(left)
    if reference is None or literals is None:
        return None
    if op in ("==", "!=") and len(literals) != 1:
        return None  # a comparison with a whole list: not a value of the field
    return Comparison(reference, op, literals)


@lru_cache(maxsize=4096)
def comparisons(source: str) -> tuple[Comparison, ...]:
    """Every comparison of a reference with constants anywhere in the expression."""
    tree = _parse(source)
    if tree is None:
        return ()
    found: list[Comparison] = []

    def visit(node: Any) -> None:
        compared = _comparison(node)
        if compared is not None:
            found.append(compared)
            return
        for child in node.iter_child_nodes():
            visit(child)

    visit(tree)
    return tuple(found)


@lru_cache(maxsize=4096)
def shape(source: str) -> Shape:
    """The values a simple `when` selects (`ref == lit`, `ref in [...]`, joined by `or`
    over one reference); Shape(None, ()) for anything else."""
    from jinja2 import nodes

    tree = _parse(source)
    if tree is None:
        return Shape(None, ())
    terms: list[Any] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, nodes.Or):
            pending += [node.right, node.left]
        else:
            terms.append(node)
    reference: Reference | None = None
    values: list[object] = []
    for term in terms:
        compared = _comparison(term)
        if compared is None or compared.op not in ("==", "in"):
            return Shape(None, ())
        if reference is not None and (compared.reference.root, compared.reference.path) != (
            reference.root,
            reference.path,
        ):
            return Shape(None, ())
        reference = compared.reference
        values += compared.literals
    return Shape(reference, tuple(values))
