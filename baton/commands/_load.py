"""Find the workflow a run command means: a spec file, a compiled workflow's name, or
a `module:attribute` holding a `runtime.Workflow` (workflows built by hand, tests).

A spec file is compiled in memory (nothing is written); lint errors stop the command
(exit 1) with the findings. The run is pinned to the spec's sha256 and the compiled
module's source, and remembers how to find its spec again (`LoadedWorkflow.spec`), so
`baton resume RUN` needs no arguments beyond the run id.

Every workflow loaded here knows its spec set's root as an absolute path
(`Workflow.root`), where its agents resolve from: for a spec file, `--root` (or
`root = "..."` under `[tool.baton.lint]`, or the file's own directory); for a compiled
workflow's name, the root its generated module records, relative to the project
directory.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import click

from baton.runtime.api import LoadedWorkflow
from baton.runtime.core.plan import workflow_pin
from baton.runtime.model import Workflow


class LintFailed(click.ClickException):
    """The spec has lint errors: the findings are the message (exit 1)."""

    exit_code = 1

    def show(self, file: object = None) -> None:
        click.echo(self.message, err=True, nl=False)


def load_workflow(spec: str) -> Workflow:
    """The workflow SPEC names (a file, a compiled name, or module:attribute)."""
    return load_spec(spec).workflow


def load_spec(spec: str, root: str | None = None) -> LoadedWorkflow:
    """The workflow with its pin, how to find it again, and its sub-workflows by name.

    `root`: the spec root of a spec file (`--root`); by default the configured one, else
    the file's own directory.
    """
    path = Path(spec)
    if path.is_file():
        return _from_file(path, configured_root(root))
    if ":" in spec:
        return _from_object(spec)
    if spec.isidentifier():
        return _from_generated(spec)
    raise click.UsageError(f"'{spec}' is neither a spec file nor a workflow name")


def configured_root(root: str | None) -> str | None:
    """`--root` if given, else `root` under `[tool.baton.lint]`, else None (the default)."""
    if root is not None:
        return root
    from baton.config import load_lint_config

    return load_lint_config().root


def _compile(path: Path, root: str | None) -> dict[str, tuple[Workflow, str]]:
    """Compile the workflows of one spec file in memory: name -> (workflow, source), each
    workflow with its absolute root."""
    from baton.compiler.codegen import compile_specs, load_workflow_from_source
    from baton.compiler.files import spec_root
    from baton.compiler.formats import render
    from baton.compiler.pipeline import LintOptions, UsageError

    try:
        result = compile_specs([str(path)], LintOptions(root=root))
    except UsageError as error:
        raise click.UsageError(str(error)) from None
    absolute = str(spec_root([str(path)], root).absolute())
    errors = [d for d in result.diagnostics if d.severity.value == "error"]
    if errors:
        raise LintFailed(render(errors, "text", result.sources) + f"{path}: not run: lint errors\n")
    loaded: dict[str, tuple[Workflow, str]] = {}
    for name, module in sorted(result.workflows.items()):
        source = result.modules[f"{module}.py"]
        workflow = load_workflow_from_source(source, module)
        loaded[name] = (dataclasses.replace(workflow, root=absolute), source)
    return loaded


def _from_file(path: Path, root: str | None) -> LoadedWorkflow:
    compiled = _compile(path, root)
    if len(compiled) != 1:
        raise click.UsageError(f"'{path}' holds no workflow (is it a roster?)")
    [(workflow, source)] = compiled.values()
    return LoadedWorkflow(
        workflow, workflow_pin(workflow, source), str(path.resolve()), _children_of(path, root)
    )


def _children_of(path: Path, root: str | None) -> Callable[[str], Workflow]:
    """Sub-workflows by name, compiled from their own spec files when first needed."""
    cache: dict[str, Workflow] = {}
    lock = threading.Lock()  # children of parallel steps resolve from worker threads

    def resolve(name: str) -> Workflow:
        with lock:
            if name not in cache:
                from baton.compiler.pipeline import load_spec_set

                known = load_spec_set([str(path)], root).spec.workflows
                if name not in known:
                    raise KeyError(name)
                cache[name] = _compile(Path(known[name].path), root)[name][0]
            return cache[name]

    return resolve


def _from_generated(name: str) -> LoadedWorkflow:
    """`baton run NAME`: the workflow compiled into `generated/NAME.py` of the current
    directory (the project's own package comes first, before anything installed)."""
    _project_first()
    try:
        module = importlib.import_module(f"generated.{name}")
    except ModuleNotFoundError:
        raise click.UsageError(
            f"no spec file '{name}' and no compiled workflow 'generated.{name}' "
            "(run `baton compile specs/` or give a spec file)"
        ) from None
    workflow = _rooted(_workflow_in(module, "WORKFLOW", name))

    def resolve(child: str) -> Workflow:
        try:
            found = _workflow_in(importlib.import_module(f"generated.{child}"), "WORKFLOW", child)
        except (ModuleNotFoundError, click.UsageError):
            raise KeyError(child) from None
        return _rooted(found)

    return LoadedWorkflow(workflow, workflow_pin(workflow, _source(module)), name, resolve)


def _rooted(workflow: Workflow) -> Workflow:
    """A compiled workflow with its root made absolute: generated code records it
    relative to the project directory (where `baton compile` ran, and `generated/` is)."""
    if not workflow.root or Path(workflow.root).is_absolute():
        return workflow
    return dataclasses.replace(workflow, root=str(Path(workflow.root).absolute()))


def _project_first() -> None:
    """The current directory first on the import path, as `python -m` would have it, so
    `generated` is the project's package (Baton installs none of that name)."""
    here = str(Path.cwd())
    if sys.path[:1] != [here]:
        sys.path.insert(0, here)


def _from_object(spec: str) -> LoadedWorkflow:
    """`module:attribute`: a Workflow built in Python; `WORKFLOWS` (name -> Workflow) in
    the same module, if present, resolves its sub-workflows."""
    module_name, _, attribute = spec.partition(":")
    _project_first()
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise click.UsageError(f"cannot import '{module_name}': {error}") from None
    workflow = _workflow_in(module, attribute, spec)
    known: dict[str, Workflow] = dict(getattr(module, "WORKFLOWS", {}))

    def resolve(child: str) -> Workflow:
        return known[child]

    return LoadedWorkflow(workflow, workflow_pin(workflow, _source(module)), spec, resolve)


def _workflow_in(module: ModuleType, attribute: str, label: str) -> Workflow:
    value = getattr(module, attribute, None)
    if not isinstance(value, Workflow):
        raise click.UsageError(f"'{label}' is not a compiled workflow")
    return value


def _source(module: ModuleType) -> str | None:
    path = getattr(module, "__file__", None)
    try:
        return Path(path).read_text("utf-8") if path else None
    except OSError:
        return None
