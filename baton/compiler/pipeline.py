"""The compiler front end in one function: files -> nodes -> IR -> findings.

`load_spec_set` runs the stages (discover, load, structure, build, resolve);
`lint` adds the rules, suppressions and filters. Codegen starts from `load_spec_set`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from baton.compiler import ir
from baton.compiler.build import Builder, file_kind
from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Diagnostic, Severity, sort_diagnostics
from baton.compiler.loader import LoadedFile, load_file
from baton.compiler.refs import SchemaStore
from baton.compiler.span import file_span
from baton.compiler.structure import check_structure
from baton.compiler.yamlnodes import YMap

SPEC_SUFFIXES = (".yaml", ".yml")
_IGNORE_COMMENT = re.compile(r"#\s*baton:\s*ignore\[([A-Za-z0-9_,\s]+)\]")


class UsageError(Exception):
    """A problem with how the command was called (exit 2), not with the specs."""


@dataclass
class Loaded:
    """A spec set with its lint context and the findings of the front end."""

    context: LintContext
    diagnostics: list[Diagnostic]
    reported: set[str]  # files whose findings are shown (the ones asked for)
    sources: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    @property
    def spec(self) -> ir.SpecSet:
        return self.context.spec


def discover(paths: Sequence[str]) -> tuple[list[str], set[str]]:
    """(every spec file of the set, the files asked for). A file brings its directory."""
    if not paths:
        raise UsageError("no paths given")
    every: set[str] = set()
    asked: set[str] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = {
                os.path.normpath(p)
                for p in path.rglob("*")
                if p.suffix in SPEC_SUFFIXES and p.is_file()
            }
            every |= found
            asked |= found
        elif path.is_file():
            shown = os.path.normpath(path)
            asked.add(shown)
            every.add(shown)
            every |= {
                os.path.normpath(p)
                for p in path.parent.rglob("*")
                if p.suffix in SPEC_SUFFIXES and p.is_file()
            }
        else:
            raise UsageError(f"path '{raw}' does not exist")
    return sorted(every), asked


def load_spec_set(paths: Sequence[str]) -> Loaded:
    """Discover, load, check structure and build the IR of a spec set."""
    files, asked = discover(paths)
    store = SchemaStore()
    builder = Builder(store)
    diagnostics: list[Diagnostic] = []
    loaded: dict[str, LoadedFile] = {}
    hashes: dict[str, str] = {}
    unversioned: dict[str, list[Diagnostic]] = {}
    for path in files:
        file, findings = load_file(Path(path), path)
        loaded[path] = file
        try:
            hashes[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            hashes[path] = ""
        root = file.root
        if root is None:
            diagnostics += findings
            continue
        structural = findings + check_structure(root)
        if isinstance(root, YMap) and root.get("baton") is None:
            unversioned[path] = structural  # maybe a $ref'd schema file; decided below
        else:
            diagnostics += structural
    rosters: dict[str, ir.Roster] = {}
    workflows: list[ir.Workflow] = []
    for path, file in loaded.items():
        root = file.root
        if not isinstance(root, YMap) or path in unversioned:
            continue
        if file_kind(root) == "roster":
            rosters[path] = builder.roster(path, root)
        elif (workflow := builder.workflow(path, root)) is not None:
            workflows.append(workflow)
    workflows = [_with_roster(w, rosters, builder, loaded, diagnostics) for w in workflows]
    for path, findings in unversioned.items():
        if path not in store.loaded_paths:
            diagnostics += findings
    by_name: dict[str, ir.Workflow] = {}
    for workflow in workflows:
        if workflow.name in by_name:
            first = by_name[workflow.name]
            diagnostics.append(
                Diagnostic(
                    "B002",
                    Severity.ERROR,
                    workflow.span,
                    f"workflow name '{workflow.name}' is already used "
                    f"(previously defined at {first.span})",
                )
            )
            continue
        by_name[workflow.name] = workflow
    for workflow in by_name.values():
        for roster in [workflow.roster] if workflow.roster else []:
            rosters.setdefault(roster.key, roster)
    diagnostics += builder.diagnostics
    sources = {path: file.lines for path, file in loaded.items()}
    spec = ir.SpecSet(by_name, rosters, sources, hashes)
    return Loaded(LintContext(spec, store), diagnostics, asked)


def _with_roster(
    workflow: ir.Workflow,
    rosters: dict[str, ir.Roster],
    builder: Builder,
    loaded: dict[str, LoadedFile],
    diagnostics: list[Diagnostic],
) -> ir.Workflow:
    ref = workflow.roster_ref
    if ref is None:
        return workflow
    if workflow.roster is not None:
        diagnostics.append(
            Diagnostic(
                "B002",
                Severity.ERROR,
                ref.span,
                f"workflow '{workflow.name}' has both 'roster:' and inline "
                "agents/approvers/policy; use one",
            )
        )
        return workflow
    key = os.path.normpath(Path(workflow.path).parent / ref.value)
    if key in rosters:
        return dataclasses.replace(workflow, roster=rosters[key])
    reason = f"file '{key}' does not exist"
    if Path(key).is_file():
        file = loaded.get(key) or load_file(Path(key), key)[0]
        if isinstance(file.root, YMap) and file_kind(file.root) == "roster":
            rosters[key] = builder.roster(key, file.root)
            return dataclasses.replace(workflow, roster=rosters[key])
        reason = (
            f"file '{key}' does not load (see its own findings)"
            if file.root is None
            else f"file '{key}' is not a roster (it needs `kind: roster`)"
        )
    diagnostics.append(Diagnostic("B205", Severity.ERROR, ref.span, f"unknown roster: {reason}"))
    return workflow


@dataclass(frozen=True)
class LintOptions:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


def _suppressed(diagnostic: Diagnostic, sources: dict[str, tuple[str, ...]]) -> bool:
    lines = sources.get(diagnostic.span.path, ())
    if not 0 < diagnostic.span.line <= len(lines):
        return False
    match = _IGNORE_COMMENT.search(lines[diagnostic.span.line - 1])
    # rule ids are matched case-insensitively, as `--select`/`--ignore` are
    rules = {r.strip().upper() for r in match.group(1).split(",")} if match else set()
    return diagnostic.rule in rules


def _selected(rule: str, options: LintOptions) -> bool:
    if options.select and not any(rule.startswith(prefix) for prefix in options.select):
        return False
    return not any(rule.startswith(prefix) for prefix in options.ignore)


def run_rules(context: LintContext, rule_ids: Iterable[str] | None = None) -> list[Diagnostic]:
    """Run the rule table (or some rules) over a spec set."""
    from baton.compiler.rules.registry import RULES

    wanted = set(rule_ids) if rule_ids is not None else None
    findings: list[Diagnostic] = []
    for rule in RULES:
        if wanted is None or rule.id in wanted:
            findings.extend(rule.run(context))
    return findings


def lint(paths: Sequence[str], options: LintOptions | None = None) -> Loaded:
    """Lint a spec set: every rule, then suppressions and `--select`/`--ignore`."""
    options = options or LintOptions()
    loaded = load_spec_set(paths)
    findings = loaded.diagnostics + run_rules(loaded.context)
    spec_files = loaded.spec.sources
    loaded.sources = _all_sources(loaded)
    loaded.diagnostics = sort_diagnostics(
        d
        for d in findings
        if d.span.path in loaded.reported or d.span.path not in spec_files
        if _selected(d.rule, options) and not _suppressed(d, loaded.sources)
    )
    return loaded


def _all_sources(loaded: Loaded) -> dict[str, tuple[str, ...]]:
    """Source lines of spec files and of the schema files their `$ref`s loaded."""
    store = loaded.context.store
    return {path: store.load_lines(path) for path in store.loaded_paths} | loaded.spec.sources


__all__ = ["LintOptions", "Loaded", "UsageError", "file_span", "lint", "load_spec_set"]
