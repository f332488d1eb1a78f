"""The compiler in one table: `STAGES`, from paths to findings to generated modules.

Each stage takes the compilation so far and returns it with its own part added, as
sqlglot's optimizer runs its `RULES`. `load_spec_set` runs the front end (through
`resolve`), `lint` runs through `select`, and `run` with no stop (codegen's
`compile_specs`) runs every stage. The stages' results are typed fields of `Compilation` and of the
`LintContext` the rules read; nothing is cached on the side.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from baton.compiler import ir
from baton.compiler.build import Builder, file_kind
from baton.compiler.chains import delegation_chains as compute_chains
from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Diagnostic, Problem, Severity, sort_diagnostics
from baton.compiler.files import absolute, spec_root, within
from baton.compiler.graphs import build_graphs as compute_graphs
from baton.compiler.loader import LoadedFile, load_file
from baton.compiler.references import template_reads
from baton.compiler.refs import SchemaStore
from baton.compiler.resolve import resolve as resolve_references
from baton.compiler.yamlnodes import YMap

SPEC_SUFFIXES = (".yaml", ".yml")
_IGNORE_COMMENT = re.compile(r"#\s*baton:\s*ignore\[([A-Za-z0-9_,\s]+)\]")


class UsageError(Exception):
    """A problem with how the command was called (exit 2), not with the specs."""


@dataclass(frozen=True)
class LintOptions:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    root: str | None = None  # the spec root (`--root`); None: the directory given
    probe_tools: bool = False  # `--probe-tools`: rule B703 starts MCP servers to list them


@dataclass
class Compilation:
    """What flows through the stages: each reads what earlier ones set and adds its part."""

    paths: Sequence[str]
    options: LintOptions = field(default_factory=LintOptions)
    # discover: the spec root (compiler.files), every spec file of the set inside it, the
    # files asked for (whose findings show), and those found that resolve outside the root
    # (symlinks: never read, B004)
    root: Path = field(default_factory=Path)
    files: list[str] = field(default_factory=list)
    reported: set[str] = field(default_factory=set)
    outside: list[str] = field(default_factory=list)
    # load: each file's nodes, sha256 and loader findings (B001, B003)
    loaded: dict[str, LoadedFile] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    load_findings: dict[str, list[Diagnostic]] = field(default_factory=dict)
    # structure: each file's mismatches with the spec format (B002). A file without
    # `baton:` may be a schema another file `$ref`s: its findings wait for `resolve`.
    structure: dict[str, list[Problem]] = field(default_factory=dict)
    unversioned: set[str] = field(default_factory=set)
    # build: the IR of each file, before files are linked (the store opens only files
    # inside the root: discover sets it up)
    store: SchemaStore = field(init=False)
    builder: Builder = field(init=False)
    workflows: list[ir.Workflow] = field(default_factory=list)
    rosters: dict[str, ir.Roster] = field(default_factory=dict)
    # resolve and later: what the rules read
    context: LintContext = field(default_factory=lambda: LintContext(ir.SpecSet({}, {}, {})))
    # resolve: the loader's findings; check: every rule's; select: those shown, sorted
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # select: source lines of every file a finding may point into, for carets
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # emit: file name -> module source, and workflow name -> module
    modules: dict[str, str] = field(default_factory=dict)
    compiled: dict[str, str] = field(default_factory=dict)

    @property
    def spec(self) -> ir.SpecSet:
        return self.context.spec


Stage = Callable[[Compilation], Compilation]


# -- the front end: files -> nodes -> IR


def discover(c: Compilation) -> Compilation:
    """The spec root, and every spec file of the set under it. A file brings its directory."""
    if not c.paths:
        raise UsageError("no paths given")
    for raw in c.paths:
        if not Path(raw).exists():
            raise UsageError(f"path '{raw}' does not exist")
    c.root = spec_root(c.paths, c.options.root)
    if not c.root.is_dir():
        raise UsageError(f"spec root '{c.root}' is not a directory")
    c.store = SchemaStore(c.root)
    c.builder = Builder(c.store)
    every: set[str] = set()
    for raw in c.paths:
        path = Path(raw)
        if not _lexically_inside(path, c.root):
            raise UsageError(f"path '{raw}' is outside the spec root '{c.root}'")
        if path.is_dir():
            found = _spec_files(path)
            every |= found
            c.reported |= found
        else:
            c.reported.add(os.path.normpath(path))
            every |= {os.path.normpath(path)} | _spec_files(path.parent)
    # a symlink under the root may point anywhere: such a file is never opened (B004)
    c.outside = sorted(path for path in every if not within(c.root, Path(path)))
    c.files = sorted(every - set(c.outside))
    c.reported |= set(c.outside)
    return c


def _lexically_inside(path: Path, root: Path) -> bool:
    given, directory = absolute(path), absolute(root)
    return given == directory or directory in given.parents


def _spec_files(directory: Path) -> set[str]:
    return {
        os.path.normpath(p)
        for p in directory.rglob("*")
        if p.suffix in SPEC_SUFFIXES and p.is_file()
    }


def load(c: Compilation) -> Compilation:
    """YAML to position-keeping nodes; syntax errors (B001) and duplicate keys (B003)."""
    for path in c.files:
        file, findings = load_file(Path(path), path)
        c.loaded[path] = file
        c.load_findings[path] = findings
        try:
            c.hashes[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            c.hashes[path] = ""
    return c


def structure(c: Compilation) -> Compilation:
    """Each file against the spec format's JSON Schema (for B002)."""
    from baton.compiler.structure import check_structure

    for path, file in c.loaded.items():
        if file.root is None:
            continue
        c.structure[path] = check_structure(file.root)
        if isinstance(file.root, YMap) and file.root.get("baton") is None:
            c.unversioned.add(path)
    return c


def build(c: Compilation) -> Compilation:
    """The IR of every roster and workflow file (top-level `$ref`s inlined)."""
    for path, file in c.loaded.items():
        root = file.root
        if not isinstance(root, YMap) or path in c.unversioned:
            continue
        if file_kind(root) == "roster":
            c.rosters[path] = c.builder.roster(path, root)
        elif (workflow := c.builder.workflow(path, root)) is not None:
            c.workflows.append(workflow)
    return c


def resolve(c: Compilation) -> Compilation:
    """Rosters linked to their workflows, workflow names unique: the spec set."""
    found = resolve_references(c.workflows, c.rosters, c.builder, c.loaded, c.root)
    # a file without `baton:` that a schema `$ref`s is a schema, not a broken spec
    schemas = c.unversioned & c.store.loaded_paths
    for path, findings in c.load_findings.items():
        c.diagnostics += findings if path not in schemas else []
    invalid = [p for path, problems in c.structure.items() if path not in schemas for p in problems]
    sources = {path: file.lines for path, file in c.loaded.items()}
    spec = ir.SpecSet(
        found.workflows, found.rosters, sources, c.hashes, str(c.root), tuple(c.outside)
    )
    c.context = LintContext(
        spec,
        c.store,
        invalid=(*invalid, *found.invalid),
        unresolved=tuple(found.unresolved),
        probe_tools=c.options.probe_tools,
    )
    return c


# -- analysis: what the rules (and codegen) read, computed once


def build_graphs(c: Compilation) -> Compilation:
    """Each workflow's step graph and the workflow call graph."""
    c.context.graphs = compute_graphs(c.spec)
    return c


def delegation_chains(c: Compilation) -> Compilation:
    """Every step's delegation chain, in every run it can be part of."""
    c.context.chains = compute_chains(c.spec)
    return c


def references(c: Compilation) -> Compilation:
    """Every name every template reads."""
    c.context.reads = template_reads(c.spec)
    return c


# -- findings


def check(c: Compilation) -> Compilation:
    """Every rule of the table (compiler.rules.registry); `select` filters afterwards."""
    from baton.compiler.rules.registry import RULES

    for rule in RULES:
        c.diagnostics += rule.run(c.context)
    return c


def select(c: Compilation) -> Compilation:
    """The findings shown: in files asked for (or files they `$ref`), not suppressed by a
    `# baton: ignore[...]` comment, chosen by `--select`/`--ignore`; sorted. A rule that
    is not silenceable (a boundary, not an opinion) is always shown."""
    from baton.compiler.rules.registry import RULES

    always = {rule.id for rule in RULES if not rule.silenceable}
    spec_files = c.spec.sources
    c.sources = _all_sources(c)
    c.diagnostics = sort_diagnostics(
        d
        for d in c.diagnostics
        if d.span.path in c.reported or d.span.path not in spec_files
        if d.rule in always or (_selected(d.rule, c.options) and not _suppressed(d, c.sources))
    )
    return c


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


def _all_sources(c: Compilation) -> dict[str, tuple[str, ...]]:
    """Source lines of spec files and of the schema files their `$ref`s loaded."""
    store = c.store
    return {path: store.load_lines(path) for path in store.loaded_paths} | c.spec.sources


# -- code


def emit(c: Compilation) -> Compilation:
    """One module per workflow asked for, and the package's `__init__.py`; nothing when
    there is an error finding."""
    if any(d.severity is Severity.ERROR for d in c.diagnostics):
        return c
    from baton.compiler.codegen import emit_package  # codegen imports this module

    c.modules, c.compiled = emit_package(c.context, c.reported)
    return c


STAGES: tuple[Stage, ...] = (
    discover,
    load,
    structure,
    build,
    resolve,
    build_graphs,
    delegation_chains,
    references,
    check,
    select,
    emit,
)


def run(
    paths: Sequence[str], options: LintOptions | None = None, through: Stage = emit
) -> Compilation:
    """Run the stages in order, up to and including `through`."""
    compilation = Compilation(paths, options or LintOptions())
    for stage in STAGES[: STAGES.index(through) + 1]:
        compilation = stage(compilation)
    return compilation


def load_spec_set(paths: Sequence[str], root_dir: str | None = None) -> Compilation:
    """Discover, load, check structure, build and resolve the IR of a spec set.

    `root_dir`: the directory every file a spec names must be inside (compiler.files);
    by default the directory given, or a file's own directory.
    """
    return run(paths, LintOptions(root=root_dir), through=resolve)


def lint(paths: Sequence[str], options: LintOptions | None = None) -> Compilation:
    """Lint a spec set: every rule, then suppressions and `--select`/`--ignore`."""
    return run(paths, options, through=select)


__all__ = [
    "STAGES",
    "Compilation",
    "LintOptions",
    "UsageError",
    "lint",
    "load_spec_set",
    "run",
]
