"""`$ref` resolution: locations in documents, JSON pointers, anchors and external documents.

The old and the new schema are two root documents; local refs resolve inside the document
that holds them. Any other ref is joined against the URI of the referring document and
handed to the caller's `load_ref`, so a relative file ref inside `common.json` is asked for
relative to `common.json`, not to the root.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urldefrag, urljoin, urlparse

from baton.compiler.schema_diff.values import canonical

OLD_DOC = "<old>"
NEW_DOC = "<new>"
_ROOTS = (OLD_DOC, NEW_DOC)
_MISSING = object()


def escape(part: str) -> str:
    """A JSON pointer segment.

    >>> escape("a/b~c")
    'a~1b~0c'
    """
    return part.replace("~", "~0").replace("/", "~1")


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


@dataclass(frozen=True, order=True)
class Loc:
    """A place in a document: a schema to compare lives at one or more of these."""

    doc: str
    pointer: str  # JSON pointer inside `doc`, "" for its root
    omit: str = ""  # a keyword to ignore here (negating `allOf` splits a schema in parts)

    def child(self, *parts: str | int) -> Loc:
        """The location of a keyword value below this one."""
        return Loc(self.doc, self.pointer + "".join("/" + escape(str(p)) for p in parts))


class Resolver:
    """Reads values at locations and follows `$ref`s, loading external documents once."""

    def __init__(
        self,
        old: object,
        new: object,
        load_ref: Callable[[str], object] | None,
        old_uri: str = "",
        new_uri: str = "",
    ) -> None:
        self._docs: dict[str, object] = {OLD_DOC: old, NEW_DOC: new}
        self._uris: dict[str, str] = {OLD_DOC: old_uri, NEW_DOC: new_uri}
        self._load_ref = load_ref
        self._keys: dict[Loc, str] = {}

    # -- reading

    def value(self, loc: Loc) -> object:
        """The raw value at a location (a missing one reads as `true`, which constrains nothing)."""
        found = self._walk(loc.doc, loc.pointer)
        if found is _MISSING:
            return True
        if loc.omit and isinstance(found, dict):
            return {key: item for key, item in found.items() if key != loc.omit}
        return found

    def _walk(self, doc: str, pointer: str) -> object:
        node = self._docs[doc]
        if not pointer:
            return node
        for raw_part in pointer.split("/")[1:]:
            part = _unescape(raw_part)
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return _MISSING
        return node

    def content_key(self, loc: Loc) -> str:
        """A key equal for equal schemas. A schema holding a `$ref` is only equal to itself
        within one document, since the same ref text means different things elsewhere."""
        key = self._keys.get(loc)
        if key is None:
            key = canonical(self.value(loc))
            if '"$ref"' in key or '"$dynamicRef"' in key:
                key = f"{loc.doc}|{key}"
            self._keys[loc] = key
        return key

    # -- references

    def follow(self, loc: Loc, ref: str) -> Loc | None:
        """Where `ref`, written at `loc`, points; None when it cannot be resolved.

        Exceptions raised by the caller's `load_ref` propagate (the caller reports them).
        """
        base = self._uris[loc.doc]
        target = urljoin(base, ref) if base else ref
        uri, fragment = urldefrag(target)
        doc = self._document(loc.doc, uri)
        if doc is None:
            return None
        fragment = unquote(fragment)
        if not fragment or fragment.startswith("/"):
            return Loc(doc, fragment) if self._walk(doc, fragment) is not _MISSING else None
        found = self._anchor(doc, "", self._docs[doc], fragment)
        return Loc(doc, found) if found is not None else None

    def _document(self, current: str, uri: str) -> str | None:
        if not uri or uri == self._uris[current]:
            return current
        root = self._docs[current]
        own_id = root.get("$id") if isinstance(root, dict) else None
        if isinstance(own_id, str) and urldefrag(own_id)[0] == uri:
            return current
        if uri in self._docs:
            return uri
        if self._load_ref is None:
            return None
        self._docs[uri] = self._load_ref(uri)
        self._uris[uri] = uri
        return uri

    def _anchor(self, doc: str, pointer: str, node: object, name: str) -> str | None:
        if isinstance(node, dict):
            if node.get("$anchor") == name:
                return pointer
            children: list[tuple[str, object]] = [(escape(str(k)), v) for k, v in node.items()]
        elif isinstance(node, list):
            children = [(str(i), v) for i, v in enumerate(node)]
        else:
            return None
        for part, child in children:
            found = self._anchor(doc, f"{pointer}/{part}", child, name)
            if found is not None:
                return found
        return None

    # -- display

    def display(self, loc: Loc) -> str:
        """A location as users read it: `#/properties/a`, or `common.json#/x` outside roots."""
        if loc.doc in _ROOTS:
            return "#" + loc.pointer
        return f"{self._doc_name(loc.doc)}#{loc.pointer}"

    def _doc_name(self, uri: str) -> str:
        # No absolute paths in output: a file is named relative to the old root's folder.
        parsed, root = urlparse(uri), urlparse(self._uris[OLD_DOC])
        if parsed.scheme == "file" and root.scheme == "file":
            return posixpath.relpath(unquote(parsed.path), posixpath.dirname(unquote(root.path)))
        return uri
