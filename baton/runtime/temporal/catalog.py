"""The compiled workflows a worker process hosts, found by the pin a run was started with.

A run does not carry its workflow (a `Workflow` holds pydantic classes and templates, not
data): it carries a `WorkflowRef`, the workflow's name, its pin (the sha256 of the spec and
of the compiled module, `runtime.core.plan.workflow_pin`) and the spec it was started
from, plus the path of sub-workflow names for a child run. A worker resolves the ref in
its `CATALOG`: the workflows it was started with, or the spec loaded again by the `load`
function it was given (the command line's loader, so the runtime never imports the
compiler). A loaded workflow whose pin differs from the run's is refused: a worker never
runs a run on another version of its spec.

This module is passed through Temporal's workflow sandbox (`runtime.temporal.worker`),
so every workflow run and every activity of the process share one catalog, and a spec
is compiled once per process, not once per run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from temporalio import workflow as temporal_workflow

from baton.runtime.model import JSON, Workflow

if TYPE_CHECKING:
    from baton.runtime.api import LoadedWorkflow

Load = Callable[[str], "LoadedWorkflow"]


class UnknownWorkflow(LookupError):
    """This worker cannot resolve a run's workflow (not hosted here, or another version)."""


@dataclass(frozen=True)
class WorkflowRef:
    """How a worker finds a run's compiled workflow: the root workflow's name, pin and
    spec, and the path of sub-workflow names below it."""

    name: str
    pin: str
    spec: str
    path: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        # the name too: workflows built in one Python module share its pin
        return (self.name, self.pin)

    def child(self, name: str) -> WorkflowRef:
        """The ref of sub-workflow `name` of this workflow."""
        return replace(self, path=(*self.path, name))

    def to_json(self) -> dict[str, JSON]:
        return {"name": self.name, "pin": self.pin, "spec": self.spec, "path": list(self.path)}

    @classmethod
    def from_json(cls, data: dict[str, JSON]) -> WorkflowRef:
        return cls(
            str(data["name"]),
            str(data["pin"]),
            str(data["spec"]),
            tuple(data.get("path") or ()),
        )

    @classmethod
    def of(cls, loaded: LoadedWorkflow) -> WorkflowRef:
        return cls(loaded.workflow.name, loaded.pin, loaded.spec)


class Catalog:
    """Loaded workflows by pin; sub-workflows resolved once per (root pin, path)."""

    def __init__(self, load: Load | None = None) -> None:
        self._load = load
        self._roots: dict[tuple[str, str], LoadedWorkflow] = {}
        self._children: dict[tuple[str, str, tuple[str, ...]], Workflow] = {}
        self._lock = threading.RLock()  # activities resolve from worker threads

    def configure(self, load: Load | None) -> None:
        """How to load a spec this process was not started with (None: refuse it)."""
        with self._lock:
            self._load = load

    def host(self, loaded: LoadedWorkflow) -> None:
        """Serve runs of `loaded` pinned to `loaded.pin`."""
        with self._lock:
            self._roots[WorkflowRef.of(loaded).key] = loaded

    def warm(self, loaded: LoadedWorkflow) -> None:
        """Host `loaded` and resolve its sub-workflows now (compiling a spec inside a
        workflow task could outlast Temporal's deadlock detector)."""
        self.host(loaded)
        pending = [(WorkflowRef.of(loaded), loaded.workflow)]
        while pending:
            ref, workflow = pending.pop()
            for step in workflow.steps:
                # a step's sub-workflow, or each its `route:` may choose
                for name in (step.workflow, *(case.workflow for case in step.route)):
                    if name is None or name in ref.path:
                        continue
                    try:
                        child = self.child(ref, name)
                    except KeyError:
                        continue  # the run fails that step, as on the local backend
                    pending.append((ref.child(name), child))

    def hosted(self) -> list[LoadedWorkflow]:
        with self._lock:
            return sorted(self._roots.values(), key=lambda loaded: loaded.workflow.name)

    def resolve(self, ref: WorkflowRef) -> Workflow:
        """The workflow `ref` names; raises UnknownWorkflow."""
        workflow = self.root(ref).workflow
        for depth in range(len(ref.path)):
            try:
                workflow = self.child(replace(ref, path=ref.path[:depth]), ref.path[depth])
            except KeyError:
                raise UnknownWorkflow(
                    f"sub-workflow '{ref.path[depth]}' of {ref.spec} is not known to this worker"
                ) from None
        return workflow

    def child(self, parent: WorkflowRef, name: str) -> Workflow:
        """Sub-workflow `name` of the workflow `parent` names; KeyError if unknown."""
        key = (*parent.key, (*parent.path, name))
        with self._lock:
            known = self._children.get(key)
            if known is not None:
                return known
            resolver = self.root(parent).resolver
            if resolver is None:
                raise KeyError(name)
            # at any depth, names resolve in the root's spec set (as on the local backend)
            workflow = resolver(name)
            self._children[key] = workflow
            return workflow

    def root(self, ref: WorkflowRef) -> LoadedWorkflow:
        """The root workflow of `ref`, loaded (once) if this process does not host it."""
        with self._lock:
            loaded = self._roots.get(ref.key)
            if loaded is not None:
                return loaded
            if self._load is None:
                raise UnknownWorkflow(self._not_hosted(ref))
            try:
                # possibly inside a workflow task: compile with real imports, not the sandbox's
                with temporal_workflow.unsafe.imports_passed_through():
                    loaded = self._load(ref.spec)
            except Exception as error:  # the loader's own refusal (missing file, lint errors)
                message = f"{self._not_hosted(ref)}; loading it failed: {error}"
                raise UnknownWorkflow(message) from None
            if WorkflowRef.of(loaded).key != ref.key:
                raise UnknownWorkflow(
                    f"{self._not_hosted(ref)}; {ref.spec} here is another version "
                    f"({loaded.workflow.name}, sha256 {loaded.pin[:12]}...)"
                )
            self._roots[ref.key] = loaded
            return loaded

    def _not_hosted(self, ref: WorkflowRef) -> str:
        hosted = ", ".join(f"{w.workflow.name} ({w.pin[:12]}...)" for w in self.hosted())
        return (
            f"this worker does not host {ref.name} ({ref.spec}) at sha256 {ref.pin[:12]}... "
            f"(it hosts: {hosted or 'nothing'})"
        )


CATALOG = Catalog()
