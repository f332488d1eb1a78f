"""Load YAML (and JSON) files into position-keeping nodes, collecting findings.

Findings here: B001 (syntax, encoding, size, nesting, alias bombs) and B003 (duplicate
keys). A file that fails to load yields findings and no tree; other files still load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from compiler.diagnostics import Diagnostic, Severity
from compiler.span import Span, file_span
from compiler.yamlnodes import YMap, YNode, YScalar, YSeq, key_text

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 200
# Aliases may repeat a subtree; past this many expanded nodes it is an alias bomb.
MAX_EXPANDED_NODES = 1_000_000

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_STR_TAGS = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"}
_SCALAR_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
}


@dataclass(frozen=True)
class LoadedFile:
    """A loaded file: its display path, its source lines and its root node."""

    path: str
    lines: tuple[str, ...]
    root: YNode | None


class _LoadError(Exception):
    def __init__(self, span: Span, message: str) -> None:
        super().__init__(message)
        self.span = span
        self.message = message


class _Builder:
    """Converts libyaml nodes to YNodes, checking depth, duplicates and expansion."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.expanded = 0
        self.diagnostics: list[Diagnostic] = []

    def span(self, node: yaml.Node) -> Span:
        start, end = node.start_mark, node.end_mark
        return Span(self.path, start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def build(self, node: yaml.Node, depth: int = 0) -> YNode:
        self.expanded += 1
        if self.expanded > MAX_EXPANDED_NODES:
            raise _LoadError(self.span(node), "document expands to too many nodes (alias bomb?)")
        if depth > MAX_DEPTH:
            raise _LoadError(self.span(node), f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return YSeq(tuple(self.build(item, depth + 1) for item in node.value), self.span(node))
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, depth)
        raise _LoadError(self.span(node), "unsupported YAML node")  # pragma: no cover

    def scalar(self, node: yaml.ScalarNode) -> YScalar:
        style = node.style or None
        if node.tag in _STR_TAGS:
            return YScalar(str(node.value), self.span(node), style)
        if node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in ("true", "false"):
            # YAML 1.2 semantics: `on`, `yes`, `no` are strings (GitHub Actions' `on:` trap)
            return YScalar(str(node.value), self.span(node), style)
        if node.tag in _SCALAR_TAGS:
            value = _CONSTRUCTOR.construct_object(node)
            if isinstance(value, float) and value != value:  # NaN is not JSON
                value = str(node.value)
            return YScalar(value, self.span(node), style)
        raise _LoadError(self.span(node), f"unsupported YAML tag '{node.tag}'")

    def mapping(self, node: yaml.MappingNode, depth: int) -> YMap:
        entries: list[tuple[YScalar, YNode]] = []
        seen: dict[str, Span] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _LoadError(self.span(key_node), "merge keys ('<<') are not supported")
            if not isinstance(key_node, yaml.ScalarNode):
                raise _LoadError(self.span(key_node), "mapping keys must be scalars")
            # keys are their source text: `1:` and `on:` are the keys "1" and "on"
            key = YScalar(str(key_node.value), self.span(key_node), key_node.style or None)
            name = key_text(key)
            if name in seen:
                self.diagnostics.append(
                    Diagnostic(
                        "B003",
                        Severity.ERROR,
                        key.span,
                        f"duplicate key '{name}' (previously defined at {seen[name]})",
                    )
                )
                self.build(value_node, depth + 1)  # dropped, but its own findings count
                continue
            seen[name] = key.span
            entries.append((key, self.build(value_node, depth + 1)))
        return YMap(tuple(entries), self.span(node))


def _alias_bomb(root: yaml.Node) -> yaml.Node | None:
    """The node where alias expansion first passes MAX_EXPANDED_NODES, or None.

    Sizes are counted on the composed graph, where an alias is the anchored node itself,
    so a billion-laughs document is caught without expanding it (expanding a million
    nodes takes seconds).
    """
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes or depth > MAX_DEPTH:  # cycles and deep nesting: the builder reports
            return sizes.get(key, 1)
        sizes[key] = 1
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        sizes[key] = min(1 + sum(size(c, depth + 1) for c in children), 2 * MAX_EXPANDED_NODES)
        return sizes[key]

    if size(root, 0) <= MAX_EXPANDED_NODES:
        return None
    node, seen = root, {id(root)}
    while True:  # descend to the smallest subtree that is still too big
        children = (
            list(node.value)
            if isinstance(node, yaml.SequenceNode)
            else [part for pair in node.value for part in pair]
            if isinstance(node, yaml.MappingNode)
            else []
        )
        big = [
            c for c in children if sizes.get(id(c), 0) > MAX_EXPANDED_NODES and id(c) not in seen
        ]
        if not big:
            return node
        node = big[0]
        seen.add(id(node))


def load_text(path: str, text: str) -> tuple[LoadedFile, list[Diagnostic]]:
    """Parse YAML text; syntax errors become B001 findings at their position."""
    lines = tuple(text.splitlines())
    loaded_empty = LoadedFile(path, lines, None)
    try:
        composed = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        span = Span(path, mark.line + 1, mark.column + 1) if mark else file_span(path)
        problem = error.problem or error.context or "invalid YAML"
        start = error.context_mark
        if error.problem and error.context and start and start.line != getattr(mark, "line", -1):
            # where the unclosed construct began is the useful half of the message
            problem += f" ({error.context} started at {path}:{start.line + 1}:{start.column + 1})"
        return loaded_empty, [Diagnostic("B001", Severity.ERROR, span, f"YAML syntax: {problem}")]
    except yaml.YAMLError as error:
        return loaded_empty, [
            Diagnostic("B001", Severity.ERROR, file_span(path), f"YAML syntax: {error}")
        ]
    if composed is None:
        return loaded_empty, [Diagnostic("B001", Severity.ERROR, file_span(path), "file is empty")]
    builder = _Builder(path)
    # no anchor, no alias: skip the walk that sizes the expanded document
    bomb = _alias_bomb(composed) if "&" in text else None
    if bomb is not None:
        message = "document expands to too many nodes (alias bomb?)"
        return loaded_empty, [Diagnostic("B001", Severity.ERROR, builder.span(bomb), message)]
    try:
        root = builder.build(composed)
    except _LoadError as error:
        return loaded_empty, [Diagnostic("B001", Severity.ERROR, error.span, error.message)]
    except RecursionError:
        return loaded_empty, [
            Diagnostic("B001", Severity.ERROR, file_span(path), "document is nested too deeply")
        ]
    return LoadedFile(path, lines, root), builder.diagnostics


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
