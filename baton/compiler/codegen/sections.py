"""Assemble a generated module: header, docstring, imports, then top-level blocks.

Blank lines follow ruff's rules for the blocks we emit: two around a class or function,
one between plain statements, one after the module docstring. Imports are written last,
from what the blocks said they use, so the module never imports a name it does not need
(ruff F401) and the import order is ruff's (isort: stdlib, third party, first party).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from baton.compiler.codegen.layout import LINE_WIDTH, width

_SAFE_NAME = re.compile(r"[a-z][a-z0-9_]*")
PYDANTIC_NAMES = ("BaseModel", "ConfigDict", "Field", "RootModel")

# import line -> the names it provides, in isort order
_IMPORTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("stdlib", "import enum", ("enum",)),
    ("stdlib", "from typing import {}", ("TYPE_CHECKING", "Any", "Literal", "TypeAlias")),
    ("first", "import baton.runtime as rt", ("rt",)),
    # for type checkers only: at run time the module imports pydantic when its models are
    # first used, in the function that defines them (`pydantic_import`)
    ("checking", "if TYPE_CHECKING:\n    from pydantic import {}", PYDANTIC_NAMES),
)


def safe_name(kind: str, name: str) -> str:
    """`kind name` for prose (docstrings), when the name is plain; else just `the kind`.

    Docstrings are the one place text is not a literal, so spec names only appear there
    when they are lowercase identifiers, which cannot close a string or hold an escape.

    >>> safe_name("handoff", "brief"), safe_name("handoff", "x'y")
    ('handoff brief', 'the handoff')
    """
    return f"{kind} {name}" if _SAFE_NAME.fullmatch(name) else f"the {kind}"


def docstring(text: str, indent: str = "    ") -> str:
    """A one-line docstring of fixed text (never spec text: see safe_name)."""
    if '"""' in text or "\\" in text or "\n" in text:
        raise ValueError(f"unsafe docstring text: {text!r}")  # a bug in a caller
    return f'{indent}"""{text}"""'


@dataclass
class _Block:
    text: str
    is_definition: bool  # a class or a function: two blank lines around it


@dataclass
class Sections:
    """The top-level blocks of a module, in order, and the imported names they use."""

    blocks: list[_Block] = field(default_factory=list)
    used: set[str] = field(
        default_factory=lambda: {"enum", "rt", "BaseModel", "TYPE_CHECKING", "Any"}
    )
    _banner: str | None = None

    def use(self, name: str) -> None:
        self.used.add(name)

    def banner(self, text: str) -> None:
        """A `# -- section` comment before the next block."""
        self._banner = f"# -- {text}"

    def statement(self, text: str) -> None:
        self._add(text, False)

    def definition(self, first_line: str, body: list[str]) -> None:
        """A class or function: its first line and its indented body lines."""
        self._add("\n".join([first_line, *body]), True)

    def _add(self, text: str, is_definition: bool) -> None:
        if self._banner is not None:
            text = f"{self._banner}\n{text}"
            self._banner = None
        self.blocks.append(_Block(text, is_definition))

    def imports(self) -> str:
        groups: dict[str, list[str]] = {}
        for group, line, names in _IMPORTS:
            wanted = [name for name in names if name in self.used]
            if wanted:
                groups.setdefault(group, []).append(line.format(", ".join(wanted)))
        return "\n\n".join("\n".join(lines) for lines in groups.values())

    def module(self, header: str, doc: list[str]) -> str:
        """The whole module text: header comments, docstring, imports, blocks."""
        parts = [header, '"""' + "\n".join(doc) + '"""', "", self.imports()]
        previous: _Block | None = None
        for block in self.blocks:
            separator = 2 if block.is_definition or (previous and previous.is_definition) else 1
            parts.append("\n" * separator + block.text)
            previous = block
        return allow_long_lines("\n".join(parts) + "\n")


@dataclass
class Nested:
    """The blocks of an indented body (of `if TYPE_CHECKING:`, of a function), each
    line already indented by `indent`; the names they use are recorded in `sections`
    too (the module's imports) and in `used` (a function's own import)."""

    sections: Sections
    indent: str
    blocks: list[_Block] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def use(self, name: str) -> None:
        self.used.add(name)
        self.sections.use(name)

    def statement(self, text: str) -> None:
        self.blocks.append(_Block(text, False))

    def definition(self, first_line: str, body: list[str]) -> None:
        self.blocks.append(_Block("\n".join([first_line, *body]), True))

    def body(self, opener: str) -> str:
        """`opener` (`if TYPE_CHECKING:`) and the blocks, blank lines as ruff puts them:
        one between blocks (ruff's at most one inside a block), and one right after the
        opener when the first block is a class (ruff's empty line before a nested class)."""
        lead = "\n" if self.blocks and self.blocks[0].is_definition else ""
        return f"{opener}\n{lead}{self.text()}"

    def text(self) -> str:
        """The blocks, one blank line between two (as in a function body)."""
        return "\n\n".join(block.text for block in self.blocks)

    def pydantic_import(self) -> list[str]:
        """The import of the pydantic names the blocks use (none: no line), and a blank."""
        names = [name for name in PYDANTIC_NAMES if name in self.used]
        return [f"{self.indent}from pydantic import {', '.join(names)}", ""] if names else []


def allow_long_lines(source: str) -> str:
    """`source` with a file-level `# ruff: noqa: E501` after its header line, if needed.

    Long lines are data (a 64-digit hash, a description, a schema value): ruff format
    cannot split a string and neither may we. The directive goes in only when a line is
    too long, since ruff reports an unused one (RUF100).
    """
    lines = source.split("\n")
    if all(width(line) <= LINE_WIDTH for line in lines):
        return source
    return "\n".join([lines[0], "# ruff: noqa: E501", *lines[1:]])
