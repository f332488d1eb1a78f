"""JSON Schema compatibility checking: the core of `baton schema diff` and rule B303.

    >>> changes = diff_schemas({"type": ["integer", "string"]}, {"type": "integer"})
    >>> [(c.kind, sorted(c.breaks)) for c in changes]
    [('TYPE_NARROWED', ['backward'])]
    >>> breaks_mode(changes, "backward"), breaks_mode(changes, "forward")
    (True, False)

`backward`: every document valid under OLD is valid under NEW (a new reader accepts old
data); `forward`: the reverse; `full`: both. The checker is sound rather than complete:
when it cannot prove a direction holds, it reports a change that breaks it.
"""

from __future__ import annotations

from collections.abc import Callable

from baton.compiler.schema_diff.kinds import KIND_TABLE, KINDS
from baton.compiler.schema_diff.model import (
    BOTH,
    MODES,
    KindInfo,
    SchemaChange,
    breaks_mode,
    sort_changes,
)
from baton.compiler.schema_diff.render import render_json, render_text

__all__ = [
    "KINDS",
    "KIND_TABLE",
    "MODES",
    "KindInfo",
    "SchemaChange",
    "breaks_mode",
    "diff_schemas",
    "render_json",
    "render_text",
]


def diff_schemas(
    old: object,
    new: object,
    *,
    load_ref: Callable[[str], object] | None = None,
    old_uri: str = "",
    new_uri: str = "",
) -> list[SchemaChange]:
    """Every change between two parsed JSON Schemas (draft 2020-12), sorted by pointer.

    Local `$ref`s (`#/$defs/x`, `#/definitions/x`, `#`, `#anchor`) resolve inside each
    schema. Any other ref is joined against the URI of the document holding it (`old_uri`
    / `new_uri` for the two roots, "" by default) and passed to `load_ref`, which returns
    the parsed document; its exceptions propagate. Without `load_ref`, such refs are
    reported as `REF_UNRESOLVED`.
    """
    from baton.compiler.schema_diff.compare import Comparer
    from baton.compiler.schema_diff.resolve import NEW_DOC, OLD_DOC, Loc, Resolver

    comparer = Comparer(Resolver(old, new, load_ref, old_uri, new_uri))
    try:
        root_old = comparer.norm.sub_at(Loc(OLD_DOC, ""))
        root_new = comparer.norm.sub_at(Loc(NEW_DOC, ""))
        return sort_changes(comparer.subs(root_old, root_new, "", "#", "#"))
    except RecursionError:
        # hundreds of nesting levels: say so, and stay sound by assuming the worst
        message = "the schemas nest too deeply to compare; assumed to break both directions"
        return [SchemaChange("UNCHECKED_KEYWORD_CHANGED", BOTH, "#", "#", message)]
