"""Resolve what files refer to across the spec set: each workflow's `roster:` file, and
workflow names, which must be unique in the set.

Resolution never raises: what does not resolve becomes a `Problem` for the rule it
belongs to (B002 for a name used twice or two rosters, B205 for a roster that is not
there), and the rest of the set is still linted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from baton.compiler import ir
from baton.compiler.build import Builder, file_kind
from baton.compiler.diagnostics import Problem
from baton.compiler.files import Refusal, confined
from baton.compiler.loader import LoadedFile, load_file
from baton.compiler.yamlnodes import YMap


@dataclass
class Resolution:
    """The workflows by name (the first of a duplicated name wins), every roster by key,
    and what did not resolve."""

    workflows: dict[str, ir.Workflow] = field(default_factory=dict)
    rosters: dict[str, ir.Roster] = field(default_factory=dict)
    invalid: list[Problem] = field(default_factory=list)  # B002
    unresolved: list[Problem] = field(default_factory=list)  # B205


def resolve(
    workflows: list[ir.Workflow],
    rosters: dict[str, ir.Roster],
    builder: Builder,
    loaded: dict[str, LoadedFile],
    root: Path,
) -> Resolution:
    """Link each workflow to its roster file (inside `root`, the spec root) and index the
    workflows by name."""
    found = Resolution(rosters=dict(rosters))
    linked = [_with_roster(w, found, builder, loaded, root) for w in workflows]
    for workflow in linked:
        first = found.workflows.get(workflow.name)
        if first is not None:
            found.invalid.append(
                Problem(
                    workflow.span,
                    f"workflow name '{workflow.name}' is already used "
                    f"(previously defined at {first.span})",
                )
            )
            continue
        found.workflows[workflow.name] = workflow
    for workflow in found.workflows.values():
        if workflow.roster is not None:
            found.rosters.setdefault(workflow.roster.key, workflow.roster)
    return found


def _with_roster(
    workflow: ir.Workflow,
    found: Resolution,
    builder: Builder,
    loaded: dict[str, LoadedFile],
    root: Path,
) -> ir.Workflow:
    ref = workflow.roster_ref
    if ref is None:
        return workflow
    if workflow.roster is not None:
        found.invalid.append(
            Problem(
                ref.span,
                f"workflow '{workflow.name}' has both 'roster:' and inline "
                "agents/approvers/policy; use one",
            )
        )
        return workflow
    file = confined(root, Path(workflow.path), ref.value)
    if isinstance(file, Refusal):
        return workflow  # never opened; rule B004 reports it
    key = str(file.path)
    if key in found.rosters:
        return dataclasses.replace(workflow, roster=found.rosters[key])
    reason = f"file '{key}' does not exist"
    if Path(key).is_file():
        roster_file = loaded.get(key) or load_file(Path(key), key)[0]
        if isinstance(roster_file.root, YMap) and file_kind(roster_file.root) == "roster":
            found.rosters[key] = builder.roster(key, roster_file.root)
            return dataclasses.replace(workflow, roster=found.rosters[key])
        reason = (
            f"file '{key}' does not load (see its own findings)"
            if roster_file.root is None
            else f"file '{key}' is not a roster (it needs `kind: roster`)"
        )
    found.unresolved.append(Problem(ref.span, f"unknown roster: {reason}"))
    return workflow
