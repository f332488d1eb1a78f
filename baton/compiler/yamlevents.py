"""YAML text to position-keeping nodes in one pass over libyaml's event stream.

Each event of the C parser becomes its node at once, its marks its span: no composed
tree to convert afterwards, no second pass to measure nesting, and an untagged scalar's
tag is resolved from its first character (as PyYAML's resolver does, minus a Python
call per scalar). On a 5,000-step spec this is several times faster than composing.

The outcome is that of composing and then converting the tree (the previous loader,
kept as the oracle of tests/lint/test_loader_oracle.py), precedence included:
1. a syntax or composer error (undefined or duplicate anchor, a second document);
   with `check_deep`, a collection nested past MAX_DEPTH that opens before it (a
   composer error then waits until the rest of the stream is read);
2. when the text may have an anchor: a recursive alias, then an expansion too big;
3. the first problem in document order, aliases expanded: a merge key, a key that is
   not a scalar, an unsupported tag, nesting past MAX_DEPTH, too many nodes;
4. else the root node, and the duplicate keys (B003) in document order.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import (
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from baton.compiler.diagnostics import Diagnostic, Severity
from baton.compiler.span import Span
from baton.compiler.yamlnodes import YMap, YNode, YScalar, YSeq

MAX_DEPTH = 200
# Aliases may repeat a subtree; past this many expanded nodes it is an alias bomb.
MAX_EXPANDED_NODES = 1_000_000

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_STR = "tag:yaml.org,2002:str"
_BOOL = "tag:yaml.org,2002:bool"
_MERGE = "tag:yaml.org,2002:merge"
_STR_TAGS = {_STR, "tag:yaml.org,2002:timestamp"}
_SCALAR_TAGS = {"tag:yaml.org,2002:null", _BOOL, "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
# PyYAML's implicit resolvers by first character ('' for the empty scalar), followed
# by the wildcard ones, in the order Resolver.resolve tries them
_WILD: tuple[tuple[str, Any], ...] = tuple(_Loader.yaml_implicit_resolvers.get(None, ()))
_RESOLVERS: dict[str, tuple[tuple[str, Any], ...]] = {
    first: (*found, *_WILD)
    for first, found in _Loader.yaml_implicit_resolvers.items()
    if first is not None
}
_new = tuple.__new__  # a Span without the Python-level __new__ of a named tuple


def _resolve(value: str, plain: bool) -> str:
    """The tag PyYAML's SafeLoader gives an untagged scalar."""
    if plain:
        for tag, regexp in _RESOLVERS.get(value[:1], _WILD):
            if regexp.match(value):
                return tag
    return _STR


class LoadProblem(Exception):
    """A document that reads but may not be used (B001), at the node at fault."""

    def __init__(self, span: Span, message: str) -> None:
        super().__init__(message)
        self.span = span
        self.message = message


class TooDeep(Exception):
    """Nesting past MAX_DEPTH, found while reading, at (line, col)."""

    def __init__(self, line: int, col: int) -> None:
        super().__init__(line, col)
        self.line = line
        self.col = col


class _Anchor:
    """An anchored node, for its aliases: what one expansion of it builds and weighs."""

    __slots__ = ("b003", "big", "built", "is_open", "mark", "node", "raw", "size", "span", "tag")

    def __init__(self, mark: Any, tag: str | None) -> None:
        self.mark = mark  # where it starts: a duplicate anchor names it
        self.tag = tag  # resolved: an alias used as a key may be a merge key
        self.is_open = True  # a collection not closed yet: an alias to it is recursive
        self.node: YNode | None = None
        self.raw: tuple[str, str | None, bool] | None = None  # a scalar: value, style, plain
        self.span = Span("", 0, 0)
        self.size = 1  # nodes, keys included (the alias-bomb measure)
        self.built = 1  # value nodes one expansion builds
        self.big: Span | None = None  # where an expansion too big is reported
        self.b003: list[Diagnostic] = []  # duplicate keys each expansion reports again


class _Frame:
    """An open collection."""

    __slots__ = (
        "anchor", "big", "built", "diag", "drop", "entries", "index", "is_map", "items", "key",
        "quiet", "seen", "size", "start", "tag",
    )  # fmt: skip

    def __init__(self, is_map: bool, start: Any, tag: str | None, size: int, built: int) -> None:
        self.is_map = is_map
        self.start = start
        self.tag = tag
        self.items: list[YNode] = []
        self.entries: list[tuple[YScalar, YNode]] = []
        self.index: dict[str, tuple[YScalar, YNode]] = {}
        self.seen: dict[str, Span] = {}
        self.key: YScalar | None = None  # a mapping's key, read; its value comes next
        self.drop = False  # that key is a duplicate: its value is built, then dropped
        self.quiet = False  # a collection used as a key: an error itself, never built
        self.size = size  # the counts when it opened
        self.built = built
        self.big: Span | None = None  # the first child too big to expand, as reported
        self.anchor: _Anchor | None = None
        self.diag = 0  # B003 findings before it


_Where = Span | _Anchor | _Frame  # a problem's node; the last two get their span later


class EventBuilder:
    """Builds one document's nodes from the event stream; see the module docstring."""

    def __init__(self, path: str, text: str, check_deep: bool, has_anchor: bool) -> None:
        self.path = path
        self.text = text
        self.check_deep = check_deep
        self.has_anchor = has_anchor
        self.diagnostics: list[Diagnostic] = []
        self.error: tuple[_Where, str] | None = None  # the first problem, in document order
        self.anchors: dict[str, _Anchor] = {}
        self.recursive: _Anchor | None = None
        self.size = 0  # nodes read, keys and alias expansions included
        self.built = 0  # value nodes built, alias expansions included
        self.quiet = 0  # open collections used as keys
        self.root_mark: Any = None
        self.root_big: Span | None = None
        self.last: Any = None  # the last event read: a flow-nesting error comes after it
        self.stack: list[_Frame] = []

    def problem(self, where: _Where, message: str) -> None:
        if self.error is None and not self.quiet:
            self.error = (where, message)

    def check_node(self, where: _Where, depth: int) -> None:
        """The checks on entering a value node: too many nodes, then nesting."""
        self.built += 1
        if self.built > MAX_EXPANDED_NODES:
            self.problem(where, "document expands to too many nodes (alias bomb?)")
        elif depth > MAX_DEPTH:
            self.problem(where, f"nesting deeper than {MAX_DEPTH} levels")

    # -- the stream

    def run(self, parser: Any) -> YNode | None:
        """The document's root node, None for an empty stream. Raises the parser's and
        composer's errors (yaml.YAMLError), TooDeep and LoadProblem."""
        get = parser.get_event
        try:
            get()  # stream start
            if type(get()) is StreamEndEvent:
                return None
            root = self.document(get)
            get()  # document end
            event = self.last = get()
            if type(event) is not StreamEndEvent:
                raise yaml.composer.ComposerError(
                    "expected a single document in the stream",
                    self.root_mark,
                    "but found another document",
                    event.start_mark,
                )
        except yaml.composer.ComposerError:
            if self.check_deep:
                self.scan_rest(get, len(self.stack))
            raise
        except yaml.MarkedYAMLError as error:
            self.flow_too_deep(error, len(self.stack))
            raise
        return self.finish(root)

    def scan_rest(self, get: Any, depth: int) -> None:
        """After a composer error: the rest of the stream nests no deeper than MAX_DEPTH,
        or raise TooDeep. A syntax error ends the scan."""
        try:
            while True:
                event = get()
                if isinstance(event, yaml.CollectionStartEvent):
                    depth += 1
                    mark = event.start_mark
                    if depth > MAX_DEPTH + 1 and mark is not None:
                        raise TooDeep(mark.line + 1, mark.column + 1)
                elif isinstance(event, yaml.CollectionEndEvent):
                    depth -= 1
                elif type(event) is StreamEndEvent:
                    return
                self.last = event
        except yaml.MarkedYAMLError as error:
            self.flow_too_deep(error, depth)
        except yaml.YAMLError:
            pass

    def flow_too_deep(self, error: yaml.MarkedYAMLError, depth: int) -> None:
        """libyaml (0.2.6 on) refuses flow nesting past 1,000 levels before it sends the
        events that nest past MAX_DEPTH: find that place in the text (TooDeep)."""
        end = self.last.end_mark if self.last is not None else None
        if self.check_deep and end is not None and "nesting depth" in (error.problem or ""):
            found = too_deep_in_flow(self.text, end.line, end.column, depth)
            if found is not None:
                raise TooDeep(*found)

    def document(self, get: Any) -> YNode:
        """Every node of the document, one event at a time, attached to its parent."""
        stack = self.stack
        path = self.path
        # no anchor: nothing to count for alias expansions; no wildcard resolver (none in
        # PyYAML): a plain scalar whose first character has no resolver is text
        fast = not self.has_anchor and not _WILD
        while True:
            event = self.last = get()
            kind = type(event)
            node: YNode | None
            if kind is ScalarEvent:
                parent = stack[-1] if stack else None
                if fast and parent is not None and event.tag is None:
                    # the common case, inline: an untagged scalar in a collection
                    start, end = event.start_mark, event.end_mark
                    span = _new(
                        Span, (path, start.line + 1, start.column + 1, end.line + 1, end.column + 1)
                    )
                    value = event.value
                    if parent.is_map and parent.key is None:
                        if value != "<<":
                            self.add_key(parent, YScalar(value, span, event.style or None))
                            continue
                    else:
                        self.built += 1
                        if self.built <= MAX_EXPANDED_NODES and len(stack) <= MAX_DEPTH:
                            plain = event.implicit[0]
                            if plain and value[:1] in _RESOLVERS:
                                node = self.value(value, None, plain, None, span)
                            else:
                                node = YScalar(value, span, event.style or None)
                            if parent.is_map:
                                key = parent.key
                                assert key is not None
                                parent.key = None
                                if parent.drop:
                                    parent.drop = False
                                else:
                                    entry = (key, node)
                                    parent.entries.append(entry)
                                    parent.index[key.value] = entry  # type: ignore[index]
                            else:
                                parent.items.append(node)
                            continue
                        self.built -= 1
                node = self.scalar(event, stack)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if (
                    fast
                    and stack
                    and event.anchor is None
                    and (not stack[-1].is_map or stack[-1].key is not None)
                    and len(stack) <= MAX_DEPTH
                    and self.built < MAX_EXPANDED_NODES
                ):  # the common case, inline: a collection as a value, nothing to count
                    self.built += 1
                    stack.append(_Frame(kind is MappingStartEvent, event.start_mark, None, 0, 0))
                else:
                    self.open(event, kind is MappingStartEvent, stack)
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                frame = stack.pop()
                start, end = frame.start, event.end_mark
                span = _new(
                    Span, (path, start.line + 1, start.column + 1, end.line + 1, end.column + 1)
                )
                if fast and frame.anchor is None and not frame.quiet and self.error is None:
                    node = (
                        YMap(tuple(frame.entries), span, frame.index)
                        if frame.is_map
                        else YSeq(tuple(frame.items), span)
                    )
                else:
                    node = self.close(frame, span, stack)
            else:  # only an alias is left: libyaml sends nothing else inside a document
                node = self.alias(event, stack)
            if not stack:
                assert node is not None
                return node
            parent = stack[-1]
            if node is None:  # a key that is not a scalar: reported, with its value dropped
                parent.key, parent.drop = YScalar("", Span(path, 0, 0)), True
            elif not parent.is_map:
                parent.items.append(node)
            elif parent.key is None:
                self.add_key(parent, node)  # type: ignore[arg-type]
            else:
                self.add_value(parent, node)

    @staticmethod
    def add_value(frame: _Frame, node: YNode) -> None:
        key = frame.key
        assert key is not None
        frame.key = None
        if frame.drop:
            frame.drop = False
        else:
            entry = (key, node)
            frame.entries.append(entry)
            frame.index[key.value] = entry  # type: ignore[index]

    def add_key(self, frame: _Frame, key: YScalar) -> None:
        name: str = key.value  # type: ignore[assignment]
        seen = frame.seen
        if name in seen:
            if not self.quiet:
                message = f"duplicate key '{name}' (previously defined at {seen[name]})"
                self.diagnostics.append(Diagnostic("B003", Severity.ERROR, key.span, message))
            frame.drop = True
        else:
            seen[name] = key.span
        frame.key = key

    def scalar(self, event: Any, stack: list[_Frame]) -> YScalar:
        start, end = event.start_mark, event.end_mark
        span: Span = _new(
            Span, (self.path, start.line + 1, start.column + 1, end.line + 1, end.column + 1)
        )
        self.size += 1
        value: str = event.value
        style = event.style or None
        tag = event.tag
        plain = event.implicit[0]
        if event.anchor is not None:
            anchor = self.new_anchor(
                event, tag if tag not in (None, "!") else _resolve(value, plain)
            )
            anchor.raw, anchor.span, anchor.is_open = (value, style, plain), span, False
        if stack:
            parent = stack[-1]
            if parent.is_map and parent.key is None:
                if tag == _MERGE or (tag in (None, "!") and plain and value == "<<"):
                    self.problem(span, "merge keys ('<<') are not supported")
                # keys are their source text: `1:` and `on:` are the keys "1" and "on"
                return YScalar(value, span, style)
        else:
            self.root_mark = start
        self.check_node(span, len(stack))
        return self.value(value, style, plain, tag, span)

    def value(self, value: str, style: str | None, plain: bool, tag: Any, span: Span) -> YScalar:
        """A scalar value: text, or a YAML 1.2 core value (bool, int, float, null)."""
        if tag is None or tag == "!":
            if not plain or (not _WILD and value[:1] not in _RESOLVERS):
                return YScalar(value, span, style)
            tag = _resolve(value, plain)
        if tag in _STR_TAGS:
            return YScalar(value, span, style)
        if tag == _BOOL and value.lower() not in ("true", "false"):
            # YAML 1.2 semantics: `on`, `yes`, `no` are strings (GitHub Actions' `on:` trap)
            return YScalar(value, span, style)
        if tag in _SCALAR_TAGS:
            node = yaml.ScalarNode(tag, value)
            try:
                made = _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, node)
            except ValueError:  # an explicit tag on text it cannot have: `!!int seven`
                self.problem(span, f"'{value}' is not a valid value for the tag '{tag}'")
                return YScalar(value, span, style)
            if isinstance(made, float) and made != made:  # NaN is not JSON
                made = value
            return YScalar(made, span, style)
        self.problem(span, f"unsupported YAML tag '{tag}'")
        return YScalar(value, span, style)

    def new_anchor(self, event: Any, tag: str | None) -> _Anchor:
        name = event.anchor
        if name in self.anchors:
            raise yaml.composer.ComposerError(
                "found duplicate anchor; first occurrence",
                self.anchors[name].mark,
                "second occurrence",
                event.start_mark,
            )
        anchor = self.anchors[name] = _Anchor(event.start_mark, tag)
        return anchor

    def open(self, event: Any, is_map: bool, stack: list[_Frame]) -> None:
        depth = len(stack)
        start = event.start_mark
        if depth > MAX_DEPTH and self.check_deep:
            raise TooDeep(start.line + 1, start.column + 1)
        frame = _Frame(is_map, start, event.tag, self.size, self.built)
        self.size += 1
        if not stack:
            self.root_mark = start
        elif stack[-1].is_map and stack[-1].key is None:
            frame.quiet = True  # reported when it closes; nothing inside is built
            self.quiet += 1
        if not frame.quiet:
            frame.diag = len(self.diagnostics)
            self.check_node(frame, depth)
        if event.anchor is not None:
            frame.anchor = self.new_anchor(event, event.tag)
        stack.append(frame)

    def close(self, frame: _Frame, span: Span, stack: list[_Frame]) -> YNode | None:
        """The collection's node; None for one used as a key (reported here)."""
        if self.error is not None and self.error[0] is frame:
            self.error = (span, self.error[1])
        node: YNode = (
            YMap(tuple(frame.entries), span, frame.index)
            if frame.is_map
            else YSeq(tuple(frame.items), span)
        )
        size = self.size - frame.size
        if size > MAX_EXPANDED_NODES:
            frame.big = frame.big or span
            if not stack:
                self.root_big = frame.big
            elif stack[-1].big is None:
                stack[-1].big = frame.big
        anchor = frame.anchor
        if anchor is not None:
            anchor.node, anchor.span, anchor.size, anchor.big = node, span, size, frame.big
            anchor.built = self.built - frame.built
            anchor.b003 = self.diagnostics[frame.diag :] if not frame.quiet else []
            anchor.is_open = False
        if frame.quiet:
            self.quiet -= 1
            if frame.tag == _MERGE:
                self.problem(span, "merge keys ('<<') are not supported")
            self.problem(span, "mapping keys must be scalars")
            return None
        return node

    def alias(self, event: Any, stack: list[_Frame]) -> YNode | None:
        """The anchored node again: its value, or its subtree (shared, not copied) with
        the findings an expansion of it has."""
        anchor = self.anchors.get(event.anchor)
        if anchor is None:
            raise yaml.composer.ComposerError(None, None, "found undefined alias", event.start_mark)
        if anchor.is_open:
            self.size += 1
            self.recursive = self.recursive or anchor
        else:
            self.size += anchor.size
            if anchor.size > MAX_EXPANDED_NODES and stack and stack[-1].big is None:
                stack[-1].big = anchor.big or anchor.span
        if stack and stack[-1].is_map and stack[-1].key is None:  # an alias used as a key
            if anchor.tag == _MERGE:
                self.problem(anchor, "merge keys ('<<') are not supported")
            if anchor.raw is None:
                self.problem(anchor, "mapping keys must be scalars")
                return None
            return YScalar(anchor.raw[0], anchor.span, anchor.raw[1])
        depth = len(stack)
        if anchor.raw is not None:
            self.check_node(anchor, depth)
            value, style, plain = anchor.raw
            return self.value(value, style, plain, anchor.tag, anchor.span)
        if anchor.is_open:  # recursive: reported by finish
            return YSeq((), Span(self.path, 0, 0))
        self.built += anchor.built - 1
        self.check_node(anchor, depth)
        if self.error is None and not self.quiet:
            deep = _first_at_depth(anchor.node, MAX_DEPTH + 1 - depth)
            if deep is not None:
                self.problem(deep, f"nesting deeper than {MAX_DEPTH} levels")
            elif self.built <= MAX_EXPANDED_NODES:
                self.diagnostics += anchor.b003
        return anchor.node

    def finish(self, root: YNode) -> YNode:
        """The problems found, in order of precedence (the module docstring)."""
        if self.has_anchor:
            if self.recursive is not None:
                message = "recursive alias: this anchored node contains an alias to itself"
                raise LoadProblem(self.recursive.span, message)
            if self.size > MAX_EXPANDED_NODES:
                where = self.root_big or root.span
                raise LoadProblem(where, "document expands to too many nodes (alias bomb?)")
        if self.error is not None:
            place, message = self.error
            raise LoadProblem(place if isinstance(place, Span) else place.span, message)  # type: ignore[union-attr]
        return root


def _first_at_depth(node: YNode | None, depth: int) -> Span | None:
    """The span of the first node, in document order, `depth` levels below `node` (keys
    are no level); None when the tree is not that deep."""
    if node is None:
        return None
    if depth <= 0:
        return node.span
    children = (
        node.items
        if isinstance(node, YSeq)
        else [v for _, v in node.entries]
        if isinstance(node, YMap)
        else ()
    )
    for child in children:
        found = _first_at_depth(child, depth - 1)
        if found is not None:
            return found
    return None


def too_deep_in_flow(text: str, line: int, column: int, depth: int) -> tuple[int, int] | None:
    """(line, col) where bracket nesting, counted from `depth` at (line, column), passes
    MAX_DEPTH; quoted scalars and comments skipped. None once the flow collection ends.

    >>> too_deep_in_flow("k: " + "[" * 300, 0, 1, 1)
    (1, 204)
    >>> too_deep_in_flow("k: ['[[[', [x]] # [[[" + "[" * 300, 0, 1, 1) is None
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


def read_nodes(path: str, text: str, check_deep: bool) -> tuple[YNode | None, list[Diagnostic]]:
    """The document's root node (None: an empty stream) and its B003 findings. Raises
    yaml.YAMLError (syntax), TooDeep and LoadProblem."""
    parser = _Loader(text)
    try:
        builder = EventBuilder(path, text, check_deep, "&" in text)
        return builder.run(parser), builder.diagnostics
    finally:
        parser.dispose()
