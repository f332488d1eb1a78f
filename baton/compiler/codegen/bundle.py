"""Bundle a schema: inline the files its `$ref`s name into `$defs`, one self-contained schema.

A generated module carries each handoff's schema as a Python literal and the runtime
validates with it, with no access to the spec directory; so every external reference is
replaced by a local one. `{"$ref": "common.json#/$defs/money"}` becomes
`{"$ref": "#/$defs/common.json/$defs/money"}` with the whole of `common.json` under
`$defs`, and the local refs inside `common.json` are rewritten to point into its new home.
A schema without external refs comes back equal to the input.

Like the lint context, a schema is its own document: a local ref (`#/...`) in an inline
schema points into that schema.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from baton.compiler.files import Confined, Refusal, confined
from baton.compiler.refs import SchemaStore
from baton.compiler.yamlnodes import JSON

# keywords whose values are data, not schemas: a `$ref` key inside them is not a reference
_DATA_KEYWORDS = frozenset({"const", "default", "enum", "examples"})
# keywords whose values map names (which may be spelled like keywords) to schemas
_NAME_MAPS = frozenset(
    {"$defs", "definitions", "dependentSchemas", "patternProperties", "properties"}
)
# keywords that would re-root reference resolution inside an embedded document
_RESOURCE_KEYWORDS = frozenset({"$id", "$schema"})
_UNSAFE_KEY = re.compile(r"[^A-Za-z0-9._-]+")


class BundleError(ValueError):
    """A referenced file cannot be loaded, or is outside the spec root (the linter reports
    it as B305 or B004 first)."""


class _Bundler:
    def __init__(self, store: SchemaStore, root_base: Path, taken: set[str]) -> None:
        self.store = store
        self.root_dir = root_base.parent
        self.taken = taken
        self.keys: dict[str, str] = {}  # normalized file path -> its key under $defs
        self.defs: dict[str, JSON] = {}

    def key_for(self, file: Confined) -> str:
        """The `$defs` key of a referenced file, bundling the file on first sight."""
        target = str(file.path)
        if target in self.keys:
            return self.keys[target]
        relative = os.path.relpath(target, self.root_dir) if self.root_dir.parts else target
        base_key = _UNSAFE_KEY.sub("_", relative.replace(os.sep, "/")).strip("._-") or "schema"
        key, suffix = base_key, 2
        while key in self.taken:
            key, suffix = f"{base_key}_{suffix}", suffix + 1
        self.taken.add(key)
        self.keys[target] = key  # before rewriting: files may refer to each other
        self.defs[key] = None  # holds the place: $defs in order of first reference
        loaded, findings = self.store.load(file)
        if loaded.root is None:
            reason = findings[0].message if findings else "it does not load"
            raise BundleError(f"cannot bundle '{target}': {reason}")
        document = self.rewrite(loaded.root.data, Path(target), key)
        if isinstance(document, dict):
            document = {k: v for k, v in document.items() if k not in _RESOURCE_KEYWORDS}
        self.defs[key] = document
        return key

    def rewrite_ref(self, ref: str, base: Path, document_key: str | None) -> str:
        file_part, _, fragment = ref.partition("#")
        pointer = fragment if fragment.startswith("/") else ""
        if not file_part:
            if document_key is None or (fragment and not pointer):
                return ref  # a ref into the root schema, or an anchor: unchanged
            return f"#/$defs/{document_key}{pointer}"
        file = confined(self.store.root, base, file_part)
        if isinstance(file, Refusal):
            # never opened, and never emitted: a validator might fetch it at run time
            raise BundleError(f"cannot bundle $ref {file} (B004)")
        if fragment and not pointer:
            return ref  # an anchor inside another file: not supported (B305)
        return f"#/$defs/{self.key_for(file)}{pointer}"

    def rewrite(self, value: JSON, base: Path, document_key: str | None) -> JSON:
        """A copy of `value` with every `$ref` made local to the bundle."""
        if isinstance(value, list):
            return [self.rewrite(item, base, document_key) for item in value]
        if not isinstance(value, dict):
            return value
        out: dict[str, JSON] = {}
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                out[key] = self.rewrite_ref(item, base, document_key)
            elif key in _DATA_KEYWORDS:
                out[key] = item
            elif key in _NAME_MAPS and isinstance(item, dict):
                out[key] = {
                    name: self.rewrite(schema, base, document_key) for name, schema in item.items()
                }
            else:
                out[key] = self.rewrite(item, base, document_key)
        return out


def bundle(schema: JSON, base: Path, store: SchemaStore) -> JSON:
    """`schema` (written in file `base`) with every external `$ref` inlined under `$defs`."""
    existing = schema.get("$defs") if isinstance(schema, dict) else None
    taken = set(existing) if isinstance(existing, dict) else set()
    bundler = _Bundler(store, base, taken)
    body = bundler.rewrite(schema, base, None)
    if not bundler.defs or not isinstance(body, dict):
        return body
    defs = body.get("$defs")
    merged: dict[str, JSON] = dict(defs) if isinstance(defs, dict) else {}
    merged.update(bundler.defs)
    return {**body, "$defs": merged}
