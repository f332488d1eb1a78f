"""Source positions: every user-written value in the IR carries one."""

from __future__ import annotations

from typing import NamedTuple


class Span(NamedTuple):
    """A position in a spec file: 1-based line and column, as editors count them.

    A named tuple, not a dataclass: the loader makes one per YAML node, and tuples are
    several times cheaper to build on 10k-step specs.

    >>> str(Span("specs/a.yaml", 3, 7))
    'specs/a.yaml:3:7'
    """

    path: str
    line: int
    col: int
    end_line: int = 0
    end_col: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def shifted(self, columns: int) -> Span:
        """The same position moved right on its line (a reference inside a scalar)."""
        return Span(self.path, self.line, self.col + columns)


def file_span(path: str) -> Span:
    """The start of a file, for findings about the file as a whole."""
    return Span(path, 1, 1)
