"""`$ref` resolution for schemas: relative files (JSON or YAML) and JSON pointers.

Referenced files are loaded once, with positions, so findings inside them point at
the right line. Resolution never raises: an unresolvable ref returns its reason, and a
ref that leaves the spec root returns its `Refusal` (rule B004) without the target ever
being opened: `load` takes only a `Confined` file (compiler.files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from baton.compiler.diagnostics import Diagnostic
from baton.compiler.files import Confined, Refusal, confined
from baton.compiler.loader import LoadedFile, load_file
from baton.compiler.yamlnodes import JSON, YMap, YNode, YSeq


@dataclass(frozen=True)
class Resolved:
    """What a `$ref` points at: the value, its node, and the document it sits in."""

    value: JSON
    node: YNode | None
    base: Path
    document: JSON
    document_node: YNode | None


def _unescape(token: str) -> str:
    return unquote(token).replace("~1", "/").replace("~0", "~")


def follow_pointer(
    value: JSON, node: YNode | None, pointer: str
) -> tuple[JSON, YNode | None] | None:
    """The value (and node) at a JSON pointer, or None when it does not exist.

    >>> follow_pointer({"a": [1, {"b": 2}]}, None, "/a/1/b")
    (2, None)
    >>> follow_pointer({"a": 1}, None, "/x") is None
    True
    """
    if pointer in ("", "/"):
        return value, node
    if not pointer.startswith("/"):
        return None
    for token in (_unescape(t) for t in pointer[1:].split("/")):
        if isinstance(value, dict) and token in value:
            value = value[token]
            node = node.get(token) if isinstance(node, YMap) else None
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            index = int(token)
            value = value[index]
            node = node.items[index] if isinstance(node, YSeq) else None
        else:
            return None
    return value, node


class SchemaStore:
    """Loads referenced schema files once and resolves refs against them; only files
    inside `root`, the spec set's root, are ever opened."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[str, tuple[LoadedFile, list[Diagnostic]]] = {}

    def load(self, file: Confined) -> tuple[LoadedFile, list[Diagnostic]]:
        key = os.path.normpath(file.path)
        if key not in self._files:
            self._files[key] = load_file(Path(key), key)
        return self._files[key]

    def load_lines(self, path: str) -> tuple[str, ...]:
        """The lines of a file this store loaded (empty for any other)."""
        found = self._files.get(path)
        return found[0].lines if found else ()

    @property
    def loaded_paths(self) -> set[str]:
        return set(self._files)

    def resolve(
        self, ref: str, base: Path, document: JSON, document_node: YNode | None
    ) -> Resolved | Refusal | str:
        """Resolve `ref` written in the file `base`; a string is the reason it failed, a
        `Refusal` a file outside the root (never opened)."""
        file_part, _, fragment = ref.partition("#")
        if file_part:
            file = confined(self.root, base, file_part)
            if isinstance(file, Refusal):
                return file
            target = file.path
            if not target.is_file():
                return f"file '{target}' does not exist"
            loaded, findings = self.load(file)
            if loaded.root is None:
                reason = findings[0].message if findings else "it does not load"
                return f"file '{target}' cannot be read: {reason}"
            base, document, document_node = target, loaded.root.data, loaded.root
        found = follow_pointer(document, document_node, fragment)
        if found is None:
            return f"'{ref}' points at nothing: no '{fragment}' in the document"
        value, node = found
        return Resolved(value, node, base, document, document_node)
