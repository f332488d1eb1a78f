"""The compose-based YAML loader that baton/compiler/loader.py replaced (kept verbatim as
the oracle of tests/lint/test_loader_oracle.py: the one-pass event builder must load
every document to the same nodes and findings). Not used by the compiler."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from baton.compiler.diagnostics import Diagnostic, Severity
from baton.compiler.span import Span, file_span
from baton.compiler.yamlnodes import YMap, YNode, YScalar, YSeq, key_text

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 200
# Aliases may repeat a subtree; past this many expanded nodes it is an alias bomb.
MAX_EXPANDED_NODES = 1_000_000
# PyYAML's C composer recurses once per nesting level; far below where its stack ends
_SAFE_INDICATORS = 5_000

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


def _expansion_problem(root: yaml.Node) -> tuple[yaml.Node, str] | None:
    """A recursive alias, or the node where alias expansion first passes
    MAX_EXPANDED_NODES; None when the document expands to a sane tree.

    Sizes are counted on the composed graph, where an alias is the anchored node itself,
    so a billion-laughs document is caught without expanding it (expanding a million
    nodes takes seconds).
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()
    recursive: list[yaml.Node] = []

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in active:
            recursive.append(node)
            return 1
        if key in sizes or depth > MAX_DEPTH:  # deep nesting: the builder reports it
            return sizes.get(key, 1)
        active.add(key)
        total = 1 + sum(size(child, depth + 1) for child in _children(node))
        active.discard(key)
        sizes[key] = min(total, 2 * MAX_EXPANDED_NODES)
        return sizes[key]

    too_big = size(root, 0) > MAX_EXPANDED_NODES
    if recursive:
        return recursive[0], "recursive alias: this anchored node contains an alias to itself"
    if not too_big:
        return None
    node = root
    while True:  # descend to the smallest subtree that is still too big
        big = [c for c in _children(node) if sizes.get(id(c), 0) > MAX_EXPANDED_NODES]
        if not big:
            return node, "document expands to too many nodes (alias bomb?)"
        node = big[0]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _line_col(before: str) -> tuple[int, int]:
    """The 1-based line and column of the character that follows `before`.

    >>> _line_col("a: 1\\nbc"), _line_col(""), _line_col("x\\n")
    ((2, 3), (1, 1), (2, 1))
    """
    lines = (before + "x").splitlines()  # "x" stands for the character itself
    return len(lines), len(lines[-1])


def _could_be_deep(text: str) -> bool:
    """Whether the text has enough collection indicators to nest deep enough to hurt.

    Each nesting level takes at least one of `[ { - ? :`; below this many, composing is
    safe and quick, and the builder reports nesting past MAX_DEPTH itself.

    >>> _could_be_deep("a: [1, {b: 2}]"), _could_be_deep("[" * 100_000)
    (False, True)
    """
    return sum(text.count(indicator) for indicator in "[{-?:") > _SAFE_INDICATORS


def _too_deep(text: str) -> tuple[int, int] | None:
    """(line, col) where nesting first passes MAX_DEPTH, from the event stream, before
    composing.

    libyaml's parser keeps its own stack, but PyYAML's composer recurses in C: some
    40,000 nested `[` overflow the C stack and kill the process (no exception to catch).
    A syntax error is left for the composer to report.

    libyaml 0.2.6 (PyYAML 6.0.3 and later) refuses flow nesting past 1,000 levels, and
    its scanner reads a whole run of `[` ahead before it emits their events: the refusal
    comes first, at level 1,000. The events up to there give the depth where the flow
    collection starts; inside a flow collection nesting is only brackets, so a scan of
    the text from there finds the same position as the event stream does on libyaml 0.2.5.
    """
    depth = 0
    last: yaml.Event | None = None
    try:
        for event in yaml.parse(text, Loader=_Loader):
            last = event
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                mark = event.start_mark
                if depth > MAX_DEPTH + 1 and mark:  # the builder's limit counts the root as 0
                    return mark.line + 1, mark.column + 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as error:
        end = last.end_mark if last is not None else None
        if end is not None and "nesting depth" in (error.problem or ""):
            return _too_deep_in_flow(text, end.line, end.column, depth)
        return None
    except yaml.YAMLError:
        return None
    return None


def _too_deep_in_flow(text: str, line: int, column: int, depth: int) -> tuple[int, int] | None:
    """(line, col) where bracket nesting, counted from `depth` at (line, column), passes
    MAX_DEPTH; quoted scalars and comments skipped. None once the flow collection ends.

    >>> _too_deep_in_flow("k: " + "[" * 300, 0, 1, 1)
    (1, 204)
    >>> _too_deep_in_flow("k: ['[[[', [x]] # [[[" + "[" * 300, 0, 1, 1) is None
    True
    """
    lines = text.splitlines()
    base = depth
    quote = ""
    previous = ""  # the last significant character: a quote opens only a scalar
    for number in range(line, len(lines)):
        row = lines[number]
        index = column if number == line else 0
        while index < len(row):
            char = row[index]
            if quote == '"':
                if char == "\\":
                    index += 1
                elif char == '"':
                    quote = ""
            elif quote == "'":
                if char == "'" and row[index + 1 : index + 2] == "'":
                    index += 1
                elif char == "'":
                    quote = ""
            elif char in "\"'" and previous in "[{,:":
                quote = char
            elif char == "#" and (index == 0 or row[index - 1] in " \t"):
                break
            elif char in "[{":
                depth += 1
                if depth > MAX_DEPTH + 1:
                    return number + 1, index + 1
            elif char in "]}":
                depth -= 1
                if depth <= base:
                    return None
            if not char.isspace():
                previous = char
            index += 1
    return None


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
    deep = _too_deep(text) if _could_be_deep(text) else None
    if deep is not None:
        span = Span(path, *deep)
        message = f"nesting deeper than {MAX_DEPTH} levels"
        return loaded_empty, [Diagnostic("B001", Severity.ERROR, span, message)]
    try:
        composed = yaml.compose(text, Loader=_Loader)
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
    if composed is None:
        return loaded_empty, [Diagnostic("B001", Severity.ERROR, file_span(path), "file is empty")]
    builder = _Builder(path)
    # no anchor, no alias: skip the walk that sizes the expanded document
    problem = _expansion_problem(composed) if "&" in text else None
    if problem is not None:
        node, message = problem
        return loaded_empty, [Diagnostic("B001", Severity.ERROR, builder.span(node), message)]
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
