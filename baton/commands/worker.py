"""`baton worker --address HOST:PORT [--namespace N] [--task-queue Q] [SPECS]`: a Temporal
worker that runs Baton runs (`baton run --backend temporal`).

SPECS are what `baton run` takes (spec files, compiled workflow names, `module:attribute`)
and directories of spec files; each is compiled once, when the worker starts, with its
sub-workflows, from its own directory (so its pin is the one `baton run --backend
temporal` computes wherever it runs). A run of a compiled workflow name or a
`module:attribute` the worker was not given is loaded when the run first needs it, if
this machine has it at the run's pin; otherwise (and for a spec file it was not given)
the worker fails the run's workflow task, and Temporal hands it to another worker.

The worker runs until SIGINT or SIGTERM, then stops polling and gives the attempts in
flight `--graceful-shutdown` seconds to finish; an attempt still running after that is
run again by another worker, under the same idempotency key.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
from pathlib import Path
from typing import Any

import click

from baton.commands._backend import load_by_name, load_pinned, temporal_options
from baton.commands._common import Refused
from baton.config import root_option
from baton.runtime.api import LoadedWorkflow, RunError


@click.command("worker")
@click.argument("specs", nargs=-1)
@temporal_options
@click.option(
    "--max-concurrent-attempts",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Attempts this worker runs at once.",
)
@click.option(
    "--sticky-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds a run's next task waits for this worker before any worker may take it.",
)
@click.option(
    "--graceful-shutdown",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="On SIGTERM, seconds the attempts in flight get to finish.",
)
@root_option
def worker_command(
    specs: tuple[str, ...],
    address: str | None,
    namespace: str,
    task_queue: str,
    max_concurrent_attempts: int,
    sticky_timeout: float,
    graceful_shutdown: float,
    root: str | None,
) -> None:
    """Run Baton workflows on Temporal: poll TASK_QUEUE, host SPECS."""
    from baton.runtime.temporal.worker import WorkerOptions, host, run_worker

    if not address:
        raise click.UsageError("--address HOST:PORT is required (or BATON_TEMPORAL_ADDRESS)")
    loaded = [workflow for spec in specs for workflow in _load_all(spec, root)]
    host(loaded, load_by_name)
    identity = f"baton-worker-{os.getpid()}@{socket.gethostname()}"
    options = WorkerOptions(
        task_queue=task_queue,
        max_concurrent_activities=max_concurrent_attempts,
        sticky_timeout_s=sticky_timeout,
        graceful_shutdown_s=graceful_shutdown,
        identity=identity,
    )
    hosted = ", ".join(f"{w.workflow.name} ({w.pin[:12]})" for w in loaded) or "none yet"

    def ready(worker: Any) -> None:
        click.echo(
            f"{identity} polling task queue '{task_queue}' on {address} "
            f"(namespace {namespace}); hosting: {hosted}",
            err=True,
        )

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(address, namespace, options, stop=stop, ready=ready)

    try:
        asyncio.run(serve())
    except (RuntimeError, RunError) as error:  # the SDK cannot connect, or its config
        message = f"cannot run a worker against {address}: {error}"
    else:
        message = ""
    gc.collect()  # the client, before the interpreter shuts down (see client.blocking)
    if message:
        raise Refused(message)
    click.echo(f"{identity} stopped", err=True)


def _load_all(spec: str, root: str | None) -> list[LoadedWorkflow]:
    """SPEC as `baton run` loads it; a directory: each workflow spec in it (rosters and
    schemas are not workflows, and are skipped)."""
    path = Path(spec)
    if not path.is_dir():
        return [load_pinned(spec, root)]
    found = []
    for file in sorted([*path.glob("*.yaml"), *path.glob("*.yml")]):
        try:
            found.append(load_pinned(str(file), root))
        except click.UsageError:
            continue  # "holds no workflow": a roster
    if not found:
        raise click.UsageError(f"'{spec}' holds no workflow spec")
    return found
