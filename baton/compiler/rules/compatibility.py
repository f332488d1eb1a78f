"""B303: consecutive handoff versions keep their declared compatibility."""

from __future__ import annotations

import itertools
from pathlib import Path
from urllib.parse import unquote, urlparse

from baton.compiler import ir
from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Report
from baton.compiler.files import Refusal, confined
from baton.compiler.span import Span
from baton.compiler.yamlnodes import node_at


def incompatible_handoff(ctx: LintContext, report: Report) -> None:
    """A handoff version breaks the declared `compatibility` with the previous version
    (`backward`: old data is valid under the new schema; `forward`: new data is valid under
    the old one; `full`: both; `none`: not checked). The message names each change and its
    JSON pointer.

    Why: producers and consumers of a handoff are upgraded at different times; a silent
    break means a consumer rejects, or misreads, what a producer sends.

    Example: version 2 of `brief` makes `sources` required under `compatibility: backward`.
    """
    from baton.compiler.schema_diff import MODES, breaks_mode, diff_schemas

    def load_ref(uri: str) -> object:
        path = unquote(urlparse(uri).path)
        file = confined(ctx.store.root, Path(path), path)
        if isinstance(file, Refusal):
            raise ValueError(f"$ref {file}")  # never opened; B004 reports it
        loaded, findings = ctx.store.load(file)
        if loaded.root is None:
            raise ValueError(findings[0].message if findings else f"cannot load {uri}")
        return loaded.root.data

    for workflow in ctx.spec.workflows.values():
        for handoff in workflow.handoffs.values():
            mode = handoff.compatibility
            versions = [handoff.versions[v] for v in sorted(handoff.versions)]
            if mode == "none" or mode not in MODES:
                continue  # not checked, or a mode the schema does not know (B002 reports it)
            for previous, current in itertools.pairwise(versions):
                if not (_valid(previous) and _valid(current)):
                    continue  # B301 reports the invalid schema
                try:
                    changes = diff_schemas(
                        previous.schema.value,
                        current.schema.value,
                        load_ref=load_ref,
                        old_uri=previous.schema.base.resolve().as_uri(),
                        new_uri=current.schema.base.resolve().as_uri(),
                    )
                except (OSError, ValueError):
                    continue  # an unresolvable $ref is B305
                directions = {"backward", "forward"} if mode == "full" else {mode}
                if not breaks_mode(changes, mode):
                    continue
                for change in changes:
                    broken = sorted(change.breaks & directions)
                    if not broken:
                        continue
                    report(
                        _span(current, change.new_pointer),
                        f"handoff '{handoff.name}' version {current.version} breaks {mode} "
                        f"compatibility with version {previous.version}: {change.kind}"
                        f"{_where(change.new_pointer, change.message)}: {change.message}",
                    )


def _valid(version: ir.HandoffVersion) -> bool:
    import jsonschema_rs

    try:
        schema = version.schema.value
        return isinstance(schema, dict | bool) and bool(jsonschema_rs.meta.is_valid(schema))
    except (ValueError, jsonschema_rs.ReferencingError):
        return False


def _where(pointer: str, message: str) -> str:
    return "" if pointer in message else f" at {pointer}"


def _span(version: ir.HandoffVersion, pointer: str) -> Span:
    """The node at `pointer` inside an inline schema, else the version's key."""
    node = version.schema.node
    if node is None or not pointer.startswith("#"):
        return version.span
    parts: list[str | int] = [
        int(p) if p.isdigit() else p.replace("~1", "/").replace("~0", "~")
        for p in pointer[1:].split("/")
        if p
    ]
    found = node_at(node, parts)
    return version.span if found is node and parts else found.span
