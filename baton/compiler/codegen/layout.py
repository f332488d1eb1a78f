"""A tiny layout engine that prints Python expressions the way `ruff format` does.

Generated modules must pass `ruff format --check` without running ruff (a subprocess
per compile would cost more than the whole compile, and `baton run` compiles in memory).
Ruff's rules for bracketed expressions reduce, for what we emit, to one choice per
bracket: if the whole expression fits on the line it stays flat; otherwise the bracket is
exploded, one element per line with a trailing comma. A trailing comma is "magic" to ruff
(it keeps the bracket exploded), so an exploded bracket is stable by construction; the
only thing to get exactly right is when flat fits, which is a width computation.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

LINE_WIDTH = 100
INDENT = "    "
_D = TypeVar("_D", bound="Doc")


def width(text: str) -> int:
    """Display width as ruff counts it: wide East Asian characters take two columns.

    >>> width("abc"), width("日本"), width("e\u0301")
    (3, 4, 1)
    """
    if text.isascii():
        return len(text)
    total = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


def cache_flat(method: Callable[[_D], str]) -> Callable[[_D], str]:
    """Memoize `flat()` on a node: a nested tree is asked for it once per level."""

    def cached(self: _D) -> str:
        found: str | None = self.__dict__.get("_flat")
        if found is None:
            found = method(self)
            self.__dict__["_flat"] = found  # frozen dataclass: bypass __setattr__
        return found

    return cached


class Doc:
    """An expression that can be printed flat or broken across lines."""

    def flat(self) -> str:
        raise NotImplementedError

    @cached_property
    def flat_width(self) -> int:
        """The width of `flat()`, computed once (layout asks for it at every level)."""
        return width(self.flat())

    def breakable(self) -> bool:
        return False

    def forced(self) -> bool:
        """Whether it must break whatever the width (it holds a comment)."""
        return False

    def broken(self, indent: str) -> str:
        """The exploded form; its first line continues the current line."""
        return self.flat()


@dataclass(frozen=True)
class Text(Doc):
    """An atom: a name, a number, a string literal."""

    text: str

    def flat(self) -> str:
        return self.text


@dataclass(frozen=True)
class Item:
    """One element of a bracket, with the comment lines that precede it."""

    doc: Doc
    comments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bracket(Doc):
    """`open item, item close`: a call, a list, a dict, a tuple, a subscript.

    `one_tuple` marks a parenthesized tuple, which needs a comma after a single item;
    `subscript` marks `name[...]`, where a comma after a single item would make a tuple.
    """

    open: str
    items: tuple[Item, ...]
    close: str
    one_tuple: bool = False
    subscript: bool = False

    @cache_flat
    def flat(self) -> str:
        inner = ", ".join(item.doc.flat() for item in self.items)
        if self.one_tuple and len(self.items) == 1:
            inner += ","
        return f"{self.open}{inner}{self.close}"

    def breakable(self) -> bool:
        return bool(self.items)

    def forced(self) -> bool:
        return any(item.comments or item.doc.forced() for item in self.items)

    def broken(self, indent: str) -> str:
        inner = indent + INDENT
        # ruff's trailing comma after the last item keeps the bracket exploded ("magic");
        # a lone subscript item gets none, as that would turn it into a tuple
        comma = "" if self.subscript and len(self.items) == 1 else ","
        lines = [self.open]
        for item in self.items:
            lines.extend(f"{inner}# {comment}" for comment in item.comments)
            lines.append(inner + render(item.doc, inner, width(inner), len(comma)) + comma)
        lines.append(indent + self.close)
        return "\n".join(lines)


@dataclass(frozen=True)
class Pair(Doc):
    """`head value`: a dict entry (`"key": value`) or a keyword argument (`name=value`)."""

    head: str
    value: Doc

    @cache_flat
    def flat(self) -> str:
        return self.head + self.value.flat()

    def breakable(self) -> bool:
        return self.value.breakable()

    def forced(self) -> bool:
        return self.value.forced()

    def broken(self, indent: str) -> str:
        return self.head + self.value.broken(indent)


@dataclass(frozen=True)
class Union(Doc):
    """`A | B | C`; broken as ruff does: in parentheses, on one line if it fits there,
    else one member per line."""

    members: tuple[Doc, ...] = field(default_factory=tuple)

    @cache_flat
    def flat(self) -> str:
        return " | ".join(member.flat() for member in self.members)

    def breakable(self) -> bool:
        return len(self.members) > 1

    def broken(self, indent: str) -> str:
        inner = indent + INDENT
        if width(inner + self.flat()) <= LINE_WIDTH:
            return f"(\n{inner}{self.flat()}\n{indent})"
        lines = ["("]
        for index, member in enumerate(self.members):
            lead = "| " if index else ""
            lines.append(inner + lead + render(member, inner, width(inner + lead), 0))
        lines.append(indent + ")")
        return "\n".join(lines)


def render(doc: Doc, indent: str, used: int, trailing: int) -> str:
    """`doc` printed after `used` columns of its first line, with `trailing` columns
    (a comma, a closing bracket) still to come on its last line.
    """
    if doc.forced() or (used + doc.flat_width + trailing > LINE_WIDTH and doc.breakable()):
        return doc.broken(indent)
    return doc.flat()


def statement(head: str, doc: Doc, indent: str = "") -> str:
    """A whole statement `head<doc>` (an assignment: `X: int = ` and a value), laid out.

    An atom that does not fit is wrapped in parentheses on a line of its own when that
    makes it fit (ruff's "parenthesize if it fits" for assignment values).
    """
    used = width(indent + head)
    flat = doc.flat()
    inner = indent + INDENT
    fits_inside = width(inner + flat) <= LINE_WIDTH
    if not doc.forced() and not doc.breakable() and used + width(flat) > LINE_WIDTH and fits_inside:
        return f"{indent}{head}(\n{inner}{flat}\n{indent})"
    if isinstance(doc, Bracket) and doc.breakable() and used + width(doc.open) > LINE_WIDTH:
        # not even the opening bracket fits after the head (a long field name and type
        # in a nested class): ruff parenthesizes the value and breaks it inside
        return f"{indent}{head}(\n{inner}{doc.broken(inner)}\n{indent})"
    return indent + head + render(doc, indent, used, 0)


def signature(head: str, parameters: Sequence[str], tail: str) -> str:
    """A `def` line (`head` is `def name(`, `tail` is `) -> T:`), broken like ruff's."""
    items = tuple(Item(Text(parameter)) for parameter in parameters)
    flat = Bracket(head, items, tail)
    if width(flat.flat()) <= LINE_WIDTH:
        return flat.flat()
    lines = [head, *(f"{INDENT}{parameter}," for parameter in parameters), tail]
    return "\n".join(lines)


def call(function: str, *arguments: Doc, **keywords: Doc) -> Bracket:
    """A call expression with positional and keyword arguments, in the order given."""
    items = [Item(argument) for argument in arguments]
    items += [Item(Pair(f"{name}=", value)) for name, value in keywords.items()]
    return Bracket(f"{function}(", tuple(items), ")")


def sequence(open_close: str, docs: Sequence[Doc]) -> Bracket:
    """A list (`[]`) or tuple (`()`) display of `docs`."""
    opening, closing = open_close[0], open_close[1]
    return Bracket(opening, tuple(Item(d) for d in docs), closing, one_tuple=opening == "(")
