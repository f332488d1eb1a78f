"""B004: every file a spec names is inside the spec root (compiler.files).

The loader and the `$ref` resolver already refuse such files without opening them; this
rule says where each refusal was written: a roster reference, an llm agent's
`system_file`, a `$ref` in a schema (also in the schema files those refer to, inside the
root), or a spec file under the root that is a symlink to somewhere else.
"""

from __future__ import annotations

from pathlib import Path

from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Report
from baton.compiler.files import Refusal, confined
from baton.compiler.span import Span, file_span
from baton.compiler.yamlnodes import JSON, YMap, YNode, YSeq

# keywords whose values are data, not schemas: a `$ref` key inside them is not a reference
_DATA_KEYWORDS = frozenset({"const", "default", "enum", "examples"})


def file_outside_root(ctx: LintContext, report: Report) -> None:
    """A spec names a file outside the spec root: a `$ref`, a `roster:` or an llm agent's
    `system_file` that climbs out (`../../secret.env`), an absolute path elsewhere
    (`/etc/passwd`), a symlink inside the root that points outside it, or a URL of any
    scheme (`file:///etc/passwd`, `https://`). The root is the directory given to the
    command (a single file's own directory), or `--root DIR`. The file is never opened,
    and this finding cannot be silenced: widen the root with `--root` if the file belongs
    to the spec set.

    Why: specs are often written by someone other than the person who lints, compiles or
    runs them (a pull request, a shared template). Without a boundary, a spec could make
    Baton read any file the user can read and echo it into CI logs or code-scanning
    annotations.

    Example: `1: {$ref: ../../.env}` in a handoff's versions.
    """
    root = ctx.spec.root
    for path in ctx.spec.outside:
        report(
            file_span(path),
            f"spec file '{path}' is a symlink to a file outside the spec root '{root}'; "
            "it was not read",
        )
    for workflow in ctx.spec.workflows.values():
        ref = workflow.roster_ref
        if ref is None:
            continue
        refusal = confined(ctx.store.root, Path(workflow.path), ref.value)
        if isinstance(refusal, Refusal):
            report(ref.span, f"roster {refusal} '{root}'; it was not read")
    rosters = {id(w.roster): w.roster for w in ctx.spec.workflows.values() if w.roster}
    rosters |= {id(r): r for r in ctx.spec.rosters.values()}
    for roster in rosters.values():
        for agent in roster.agents.values():
            system_file = agent.llm.system_file if agent.llm else None
            if system_file is None:
                continue
            refusal = confined(ctx.store.root, Path(system_file.span.path), system_file.value)
            if isinstance(refusal, Refusal):
                report(system_file.span, f"system_file {refusal} '{root}'; it was not read")
    visited: set[Path] = set()
    for workflow in ctx.spec.workflows.values():
        schemas = [workflow.inputs] if workflow.inputs else []
        schemas += [v.schema for h in workflow.handoffs.values() for v in h.versions.values()]
        for schema in schemas:
            _refs(ctx, report, schema.value, schema.node, schema.base, schema.span, visited)


def _refs(
    ctx: LintContext,
    report: Report,
    value: JSON,
    node: YNode | None,
    base: Path,
    fallback: Span,
    visited: set[Path],
) -> None:
    """Refused `$ref`s in a schema, and in the files inside the root it refers to."""
    span = node.span if node is not None else fallback
    if isinstance(value, list):
        for index, item in enumerate(value):
            child = node.items[index] if isinstance(node, YSeq) else None
            _refs(ctx, report, item, child, base, span, visited)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        child = node.get(key) if isinstance(node, YMap) else None
        if key == "$ref" and isinstance(item, str):
            _ref(ctx, report, item, child.span if child else span, base, visited)
        elif key not in _DATA_KEYWORDS:
            _refs(ctx, report, item, child, base, span, visited)


def _ref(
    ctx: LintContext, report: Report, ref: str, span: Span, base: Path, visited: set[Path]
) -> None:
    file_part = ref.partition("#")[0]
    if not file_part:
        return
    file = confined(ctx.store.root, base, file_part)
    if isinstance(file, Refusal):
        report(span, f"$ref {file} '{ctx.spec.root}'; it was not read")
        return
    if file.real in visited or not file.path.is_file():
        return  # seen already, or missing (B305)
    visited.add(file.real)
    loaded, _ = ctx.store.load(file)
    if loaded.root is not None:
        _refs(ctx, report, loaded.root.data, loaded.root, file.path, span, visited)
