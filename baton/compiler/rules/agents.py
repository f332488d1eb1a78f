"""Agents that resolve: a builtin that exists (B208), a python module that can be found
(B209), both decided without importing anything.

The compiler does not import runtime internals, so it keeps the builtin names the
runtime ships (runtime/agents/builtin.py); a test holds the two lists equal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from importlib.machinery import FrozenImporter, PathFinder

from baton.compiler import ir
from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Report, choices_text, did_you_mean

# the runtime's builtin agents, and the families of which any member exists (`demo.NAME`)
BUILTIN_AGENTS = ("echo", "fail", "flaky", "malformed", "sleep")
BUILTIN_FAMILIES = ("demo.",)


def _agents(ctx: LintContext, kind: str) -> Iterator[ir.Agent]:
    """Every agent of this kind, each roster once (a roster file serves many workflows)."""
    rosters = {id(w.roster): w.roster for w in ctx.spec.workflows.values() if w.roster}
    rosters |= {id(r): r for r in ctx.spec.rosters.values()}
    for roster in rosters.values():
        for agent in roster.agents.values():
            if agent.run.kind == kind and isinstance(agent.run.target, str):
                yield agent


def unknown_builtin(ctx: LintContext, report: Report) -> None:
    """`run: {builtin: NAME}` names a builtin agent Baton does not ship. The builtins are
    `echo`, `fail`, `flaky`, `malformed`, `sleep` and any `demo.NAME`.

    Why: the run would fail at the step's first attempt, after the steps before it have
    done their work (and spent their tokens).

    Example: `run: {builtin: ehco}` (did you mean `echo`?).
    """
    choices = [*BUILTIN_AGENTS, *(f"{family}*" for family in BUILTIN_FAMILIES)]
    for agent in _agents(ctx, "builtin"):
        name = str(agent.run.target)
        if name in BUILTIN_AGENTS or name.startswith(BUILTIN_FAMILIES):
            continue
        report(
            agent.run.target_span or agent.run.span,
            f"agent '{agent.name}' runs unknown builtin '{name}'"
            f"{did_you_mean(name, BUILTIN_AGENTS)}; builtins are {choices_text(choices)}",
        )


def python_agent_not_found(ctx: LintContext, report: Report) -> None:
    """`run: {python: "module:function"}` names a module that is neither under the spec
    root (`module.py` or `module/__init__.py`, dotted names as directories) nor installed
    where `baton` runs. Python agents import with the spec root first on `sys.path`. The
    module is looked for, never imported (an import runs its code). A warning: the
    environment that runs the workflow (a Temporal worker) may have packages that the one
    that lints does not; `--strict` makes it fail.

    Why: the step would fail with `agent_error` at its first attempt, mid-run.

    Example: `run: {python: "agents.webster:handle"}` with no `agents/webster.py` under the
    root and no installed `agents` package.
    """
    root = os.path.realpath(ctx.store.root)
    known: dict[str, bool] = {}  # per run: a test (or an editor) may add the file later
    for agent in _agents(ctx, "python"):
        module = str(agent.run.target).partition(":")[0]
        if module not in known:
            known[module] = _module_exists(root, module)
        if not module or known[module]:
            continue
        parts = module.split(".")
        files = "/".join(parts)
        report(
            agent.run.target_span or agent.run.span,
            f"python agent '{agent.name}' imports module '{module}', which is neither under "
            f"the spec root '{ctx.spec.root}' ({files}.py or {files}/__init__.py) nor "
            "installed",
        )


def _module_exists(root: str, module: str) -> bool:
    """Whether `import module` would find a module with `root` first on the path.

    PathFinder and FrozenImporter only look at files: no module code runs. Below an
    installed top-level package only the package itself is checked, since its
    `__init__` may extend its own path at import time.
    """
    parts = module.split(".")
    top = parts[0]
    try:
        spec = PathFinder.find_spec(top, [root])
    except (ImportError, OSError, ValueError):
        spec = None
    if spec is None:
        if top in sys.builtin_module_names or FrozenImporter.find_spec(top) is not None:
            return True
        others = [p for p in sys.path if os.path.realpath(p or ".") != root]
        try:
            return PathFinder.find_spec(top, others) is not None
        except (ImportError, OSError, ValueError):
            return True  # a path entry it cannot read: do not guess
    # the root's own package shadows any installed one: walk it down, file by file
    for depth in range(1, len(parts)):
        locations = spec.submodule_search_locations
        if not locations:
            return False  # `a.b` where `a` is a module, not a package
        try:
            spec = PathFinder.find_spec(".".join(parts[: depth + 1]), list(locations))
        except (ImportError, OSError, ValueError):
            return False
        if spec is None:
            return False
    return True
