"""Python type expressions for generated annotations, and whether a default fits one.

A small closed set (a name, `Literal[...]`, `list[...]`, `dict[str, ...]`, a union) is
enough for the JSON Schema subset codegen maps exactly (docs/codegen.md); everything
else is `rt.JSON`. Each knows how to print itself and which JSON values it admits, so a
schema `default` is only emitted where mypy will accept it.
"""

from __future__ import annotations

from dataclasses import dataclass

from baton.compiler.codegen import literals
from baton.compiler.codegen.layout import Bracket, Doc, Item, Text, Union
from baton.compiler.yamlnodes import JSON

JSON_NAME = "rt.JSON"


class PyType:
    """A type expression."""

    def doc(self) -> Doc:
        raise NotImplementedError

    def flat(self) -> str:
        return self.doc().flat()

    def admits(self, value: JSON) -> bool:
        """Whether `value` type-checks as this type (for schema defaults)."""
        raise NotImplementedError

    @property
    def is_json(self) -> bool:
        return False

    @property
    def nullable(self) -> bool:
        return False


@dataclass(frozen=True)
class Named(PyType):
    """A builtin, `None`, `rt.JSON`, or a generated class or alias."""

    name: str

    def doc(self) -> Doc:
        return Text(self.name)

    def admits(self, value: JSON) -> bool:
        if self.name == JSON_NAME:
            return True
        checks = {
            "str": lambda v: isinstance(v, str),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "float": lambda v: isinstance(v, float),
            "bool": lambda v: isinstance(v, bool),
            "None": lambda v: v is None,
        }
        check = checks.get(self.name)  # a generated class admits no JSON value
        return check is not None and check(value)

    @property
    def is_json(self) -> bool:
        return self.name == JSON_NAME

    @property
    def nullable(self) -> bool:
        return self.name in ("None", JSON_NAME)


JSON_TYPE = Named(JSON_NAME)
NONE_TYPE = Named("None")


@dataclass(frozen=True)
class Lit(PyType):
    """`Literal[...]` of strings, ints and bools (None is a separate union member)."""

    values: tuple[str | int | bool, ...]

    def doc(self) -> Doc:
        items = tuple(Item(literals.value(v)) for v in self.values)
        return Bracket("Literal[", items, "]", subscript=True)

    def admits(self, value: JSON) -> bool:
        return any(type(value) is type(v) and value == v for v in self.values)


@dataclass(frozen=True)
class ListOf(PyType):
    item: PyType

    def doc(self) -> Doc:
        return Bracket("list[", (Item(self.item.doc()),), "]", subscript=True)

    def admits(self, value: JSON) -> bool:
        return isinstance(value, list) and all(self.item.admits(v) for v in value)


@dataclass(frozen=True)
class DictOf(PyType):
    value: PyType

    def doc(self) -> Doc:
        items = (Item(Text("str")), Item(self.value.doc()))
        return Bracket("dict[", items, "]", subscript=True)

    def admits(self, value: JSON) -> bool:
        return isinstance(value, dict) and all(self.value.admits(v) for v in value.values())


@dataclass(frozen=True)
class UnionOf(PyType):
    members: tuple[PyType, ...]

    def doc(self) -> Doc:
        return Union(tuple(member.doc() for member in self.members))

    def admits(self, value: JSON) -> bool:
        return any(member.admits(value) for member in self.members)

    @property
    def nullable(self) -> bool:
        return any(member.nullable for member in self.members)


def union(members: list[PyType]) -> PyType:
    """The union of `members`: flattened, deduplicated, `None` last, JSON absorbs all.

    >>> union([Named("str"), NONE_TYPE, Named("str")]).flat()
    'str | None'
    >>> union([Named("int"), JSON_TYPE]).flat()
    'rt.JSON'
    """
    flat: list[PyType] = []
    for member in members:
        flat.extend(member.members if isinstance(member, UnionOf) else [member])
    if not flat or any(member.is_json for member in flat):
        return JSON_TYPE
    unique: list[PyType] = []
    for member in flat:
        if member not in unique:
            unique.append(member)
    if NONE_TYPE in unique:
        unique = [m for m in unique if m != NONE_TYPE] + [NONE_TYPE]
    return unique[0] if len(unique) == 1 else UnionOf(tuple(unique))


def optional(member: PyType) -> PyType:
    """`member | None` unless it already admits None."""
    return member if member.nullable else union([member, NONE_TYPE])
