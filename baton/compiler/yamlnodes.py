"""YAML as a tree of nodes that keep their source position.

The loader builds these from libyaml's composed nodes; the IR builder reads them.
`data` is the plain JSON-like value (mapping keys as strings) for schema validation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

from baton.compiler.span import Span

JSON: TypeAlias = bool | int | float | str | list["JSON"] | dict[str, "JSON"] | None


@dataclass(eq=False, slots=True)
class YScalar:
    """A scalar: its constructed value (str, int, float, bool or None)."""

    value: bool | int | float | str | None
    span: Span
    style: str | None = None  # None for plain; '"', "'", '|', '>' for quoted and block

    @property
    def data(self) -> JSON:
        return self.value


@dataclass(eq=False, slots=True)
class YSeq:
    """A sequence of nodes."""

    items: tuple[YNode, ...]
    span: Span

    @property
    def data(self) -> JSON:
        return [item.data for item in self.items]


@dataclass(eq=False, slots=True)
class YMap:
    """A mapping; keys are scalars (their text is the key), order as written."""

    entries: tuple[tuple[YScalar, YNode], ...]
    span: Span
    _index: dict[str, tuple[YScalar, YNode]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # the loader passes the index it built on the way (same length); others get one
        if len(self._index) != len(self.entries):
            for key, value in self.entries:
                self._index.setdefault(key_text(key), (key, value))

    def get(self, name: str) -> YNode | None:
        found = self._index.get(name)
        return found[1] if found else None

    def key_node(self, name: str) -> YScalar | None:
        found = self._index.get(name)
        return found[0] if found else None

    def by_name(self) -> dict[str, YNode]:
        """Each key's value by the key's text: one dict, for a reader of many keys."""
        return {name: value for name, (_, value) in self._index.items()}

    def keys(self) -> list[str]:
        return [key_text(key) for key, _ in self.entries]

    def items(self) -> Iterator[tuple[str, YScalar, YNode]]:
        for key, value in self.entries:
            yield key_text(key), key, value

    @property
    def data(self) -> JSON:
        # the index holds the entries in order, by key text (the loader drops duplicates)
        return {name: entry[1].data for name, entry in self._index.items()}


YNode: TypeAlias = YScalar | YSeq | YMap


def key_text(key: YScalar) -> str:
    """A mapping key as text: YAML `1:` and `"1":` name the same handoff version.

    >>> key_text(YScalar(True, Span("f", 1, 1)))
    'true'
    """
    if isinstance(key.value, bool):
        return "true" if key.value else "false"
    if key.value is None:
        return "null"
    return str(key.value)


def node_at(root: YNode, pointer: list[str | int]) -> YNode:
    """The deepest node on a JSON path (as validators report it); stops where the path ends."""
    node = root
    for part in pointer:
        if isinstance(node, YMap):
            child = node.get(str(part))
            if child is None:
                return node
            node = child
        elif isinstance(node, YSeq) and isinstance(part, int) and 0 <= part < len(node.items):
            node = node.items[part]
        else:
            return node
    return node
