"""Load YAML (and JSON) files into position-keeping nodes, collecting findings.

Findings here: B001 (syntax, encoding, size, nesting, alias bombs) and B003 (duplicate
keys). A file that fails to load yields findings and no tree; other files still load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from baton.compiler.diagnostics import Diagnostic, Severity
from baton.compiler.span import Span, file_span
from baton.compiler.yamlevents import MAX_DEPTH, LoadProblem, TooDeep, read_nodes
from baton.compiler.yamlnodes import YNode

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "LoadedFile", "load_file", "load_text"]

MAX_FILE_BYTES = 8 * 1024 * 1024
# Above this many collection indicators a collection nested past MAX_DEPTH is reported
# as soon as it is read, ahead of a later syntax error (the composer that this loader
# replaced recursed in C once per level, so deep text was measured before composing)
_SAFE_INDICATORS = 5_000


@dataclass(frozen=True)
class LoadedFile:
    """A loaded file: its display path, its source lines and its root node."""

    path: str
    lines: tuple[str, ...]
    root: YNode | None


def _line_col(before: str) -> tuple[int, int]:
    """The 1-based line and column of the character that follows `before`.

    >>> _line_col("a: 1\\nbc"), _line_col(""), _line_col("x\\n")
    ((2, 3), (1, 1), (2, 1))
    """
    lines = (before + "x").splitlines()  # "x" stands for the character itself
    return len(lines), len(lines[-1])


def _could_be_deep(text: str) -> bool:
    """Whether the text has enough collection indicators to nest deep enough to hurt.

    Each nesting level takes at least one of `[ { - ? :`; below this many, nesting past
    MAX_DEPTH is one of the problems reported after the whole text has been read.

    >>> _could_be_deep("a: [1, {b: 2}]"), _could_be_deep("[" * 100_000)
    (False, True)
    """
    return sum(text.count(indicator) for indicator in "[{-?:") > _SAFE_INDICATORS


def _syntax_problem(error: yaml.MarkedYAMLError, lines: tuple[str, ...], path: str) -> str:
    """libyaml's problem, with the start of the unclosed construct and tabs named."""
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "invalid YAML"
    if mark and 0 <= mark.line < len(lines) and lines[mark.line][mark.column :].startswith("\t"):
        return "found a tab; YAML indentation must use spaces"
    start = error.context_mark
    if error.problem and error.context and start and mark and start.line != mark.line:
        problem += f" ({error.context} started at {path}:{start.line + 1}:{start.column + 1})"
    return problem


def load_text(path: str, text: str) -> tuple[LoadedFile, list[Diagnostic]]:
    """Parse YAML text; syntax errors become B001 findings at their position."""
    lines = tuple(text.splitlines())
    loaded_empty = LoadedFile(path, lines, None)
    try:
        root, findings = read_nodes(path, text, _could_be_deep(text))
    except TooDeep as deep:
        span = Span(path, deep.line, deep.col)
        message = f"nesting deeper than {MAX_DEPTH} levels"
        return loaded_empty, [Diagnostic("B001", Severity.ERROR, span, message)]
    except LoadProblem as problem:
        return loaded_empty, [Diagnostic("B001", Severity.ERROR, problem.span, problem.message)]
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        span = Span(path, mark.line + 1, mark.column + 1) if mark else file_span(path)
        if lines and span.line > len(lines) and not text.endswith(("\n", "\r")):
            # libyaml puts "end of file" on a line the file does not have: use its last
            span = Span(path, len(lines), len(lines[-1]) + 1)
        message = f"YAML syntax: {_syntax_problem(error, lines, path)}"
        return loaded_empty, [Diagnostic("B001", Severity.ERROR, span, message)]
    except yaml.reader.ReaderError as error:
        # libyaml counts its position in UTF-8 bytes
        before = text.encode("utf-8")[: error.position].decode("utf-8", errors="ignore")
        span = Span(path, *_line_col(before))
        message = f"character {error.character:#06x} is not allowed in YAML: {error.reason}"
        return loaded_empty, [Diagnostic("B001", Severity.ERROR, span, message)]
    except yaml.YAMLError as error:
        return loaded_empty, [
            Diagnostic("B001", Severity.ERROR, file_span(path), f"YAML syntax: {error}")
        ]
    if root is None:
        return loaded_empty, [Diagnostic("B001", Severity.ERROR, file_span(path), "file is empty")]
    return LoadedFile(path, lines, root), findings


def load_file(path: Path, display: str | None = None) -> tuple[LoadedFile, list[Diagnostic]]:
    """Read and parse one file; unreadable, huge, binary or non-UTF-8 input is B001."""
    shown = display or str(path)
    empty = LoadedFile(shown, (), None)

    def fail(message: str, span: Span | None = None) -> tuple[LoadedFile, list[Diagnostic]]:
        return empty, [Diagnostic("B001", Severity.ERROR, span or file_span(shown), message)]

    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return fail(f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")
        raw = path.read_bytes()
    except OSError as error:
        return fail(f"cannot read file: {error.strerror or error}")
    if b"\x00" in raw:
        return fail("binary file (contains NUL bytes), expected UTF-8 YAML")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        col = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        return fail("file is not valid UTF-8", Span(shown, line, col))
    return load_text(shown, text)
