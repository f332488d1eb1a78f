"""A Temporal worker hosting `BatonWorkflow` and the attempt activity (`baton worker`).

The workflow runs in Temporal's sandbox, which re-imports a workflow's module for each
run to catch non-determinism. The runtime modules the workflow calls (the pure core,
rendering, validation, the model) are deterministic, so they are *passed through*:
imported once per process, shared by every run. So are the compiled workflows
(`generated`, and what the command line's loader compiles) and the libraries they use.
Only `runtime.temporal.workflow` itself (and the package `__init__`s above it) is
re-imported in the sandbox, so the sandbox still checks the workflow's own code.
"""

from __future__ import annotations

import asyncio
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from baton import runtime
from baton.runtime.api import LoadedWorkflow
from baton.runtime.temporal.activities import attempt_activity
from baton.runtime.temporal.catalog import CATALOG, Load
from baton.runtime.temporal.messages import DEFAULT_TASK_QUEUE
from baton.runtime.temporal.notifications import notify_activity
from baton.runtime.temporal.workflow import BatonWorkflow

# libraries the runtime and compiled workflows use, and Baton's own packages
PASSED_THROUGH = (
    "annotated_types",
    "baton.cli",
    "baton.commands",
    "baton.compiler",
    "baton.config",
    "click",
    "generated",
    "jinja2",
    "jsonschema_rs",
    "markupsafe",
    "networkx",
    "opentelemetry",
    "pydantic",
    "pydantic_core",
    "rich",
    "transitions",
    "typing_extensions",
    "yaml",
)


def passed_through() -> tuple[str, ...]:
    """Every module the workflow sandbox passes through: all of `runtime` but the
    Temporal workflow module, and the libraries above."""
    own = [
        f"baton.runtime.{module.name}"
        for module in pkgutil.iter_modules(runtime.__path__)
        if module.name != "temporal"
    ]
    own += [
        "baton.runtime.temporal.catalog",
        "baton.runtime.temporal.messages",
        "baton.runtime.temporal.redrive",
        "baton.runtime.temporal.notifications",
    ]
    return (*sorted(own), *PASSED_THROUGH)


def sandbox_runner() -> SandboxedWorkflowRunner:
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*passed_through())
    return SandboxedWorkflowRunner(restrictions=restrictions)


@dataclass(frozen=True)
class WorkerOptions:
    """How one worker process polls: its task queue and how much it takes on."""

    task_queue: str = DEFAULT_TASK_QUEUE
    max_concurrent_activities: int = 100
    # how long a run's next workflow task waits for this worker (which has the run
    # cached) before any worker may take it: the delay after this worker dies
    sticky_timeout_s: float = 10.0
    # on SIGTERM: attempts in flight get this long to finish before they are lost
    graceful_shutdown_s: float = 30.0
    identity: str | None = None


def build_worker(client: Client, options: WorkerOptions) -> Worker:
    """A worker for `BatonWorkflow` and `baton_attempt` on `options.task_queue`."""
    return Worker(
        client,
        task_queue=options.task_queue,
        workflows=[BatonWorkflow],
        activities=[attempt_activity, notify_activity],
        workflow_runner=sandbox_runner(),
        max_concurrent_activities=options.max_concurrent_activities,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=options.sticky_timeout_s),
        graceful_shutdown_timeout=timedelta(seconds=options.graceful_shutdown_s),
        identity=options.identity,
    )


def host(loaded: Iterable[LoadedWorkflow], load: Load | None) -> None:
    """Make this process serve runs of `loaded` (and of whatever `load` can load)."""
    CATALOG.configure(load)
    for workflow in loaded:
        CATALOG.warm(workflow)


async def run_worker(
    address: str,
    namespace: str,
    options: WorkerOptions,
    *,
    stop: asyncio.Event,
    ready: Callable[[Worker], None] | None = None,
) -> None:
    """Connect, poll until `stop` is set, then shut down gracefully."""
    from baton.runtime.temporal.client import connect_options

    client = await Client.connect(**connect_options(address, namespace))
    worker = build_worker(client, options)
    async with worker:
        if ready is not None:
            ready(worker)
        await stop.wait()
