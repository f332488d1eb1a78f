"""Small entry points other packages call into the compiler with."""

from __future__ import annotations

from pathlib import Path

from baton.compiler.yamlnodes import JSON


class HandoffNotFound(ValueError):
    """The spec file does not declare that handoff version."""


def load_handoff_schema(path: Path, handoff: str, version: int) -> JSON:
    """The schema of `handoff@version` declared by a workflow in the spec file `path`.

    A version written as `{$ref: file}` comes back as that file's content.
    """
    from baton.compiler.pipeline import load_spec_set

    loaded = load_spec_set([str(path)])
    shown = str(Path(path)).replace("\\", "/")
    workflows = [w for w in loaded.spec.workflows.values() if w.path.replace("\\", "/") == shown]
    if not workflows:
        raise HandoffNotFound(f"'{path}' declares no workflow (or does not parse)")
    for workflow in workflows:
        found = workflow.handoffs.get(handoff)
        if found is None:
            continue
        if version not in found.versions:
            versions = ", ".join(map(str, sorted(found.versions)))
            raise HandoffNotFound(
                f"handoff '{handoff}' has no version {version}; versions are {versions}"
            )
        return found.versions[version].schema.value
    names = sorted({h for w in workflows for h in w.handoffs})
    raise HandoffNotFound(
        f"no handoff '{handoff}' in '{path}'; handoffs are {', '.join(names) or 'none'}"
    )
