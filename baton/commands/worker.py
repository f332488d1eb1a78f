"""`baton worker --address HOST:PORT [--namespace N] [--task-queue Q] [SPECS]`: a Temporal
worker that runs Baton runs (`baton run --backend temporal`).

`baton worker --local [-j N] [--db PATH]`: a local worker pool instead (runtime.pool): N
processes that claim the runs of the SQLite database that can move (queued by `baton
run --queue`, or left by a process that died, or approved after a detach) and drive
them, each under its lease. Each run is loaded from the spec it was started from.

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

import os
import socket
from pathlib import Path

import click

from baton.commands._backend import temporal_backend, temporal_options
from baton.commands._common import cassette_options, db_option, refusals
from baton.commands._load import load_spec
from baton.commands._pool import serve_local_pool
from baton.config import root_option
from baton.runtime.api import LoadedWorkflow, RunError
from baton.runtime.backend import serve_temporal_worker


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
@click.option("--local", is_flag=True, help="A local worker pool on the SQLite database.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With --local: worker processes.",
)
@click.option(
    "--runs-per-worker",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="With --local: runs one worker process drives at once.",
)
@db_option
@cassette_options
@root_option
@refusals
def worker_command(
    specs: tuple[str, ...],
    address: str | None,
    namespace: str,
    task_queue: str,
    max_concurrent_attempts: int,
    sticky_timeout: float,
    graceful_shutdown: float,
    local: bool,
    jobs: int,
    runs_per_worker: int,
    db: str | None,
    root: str | None,
) -> None:
    """Run Baton workflows on Temporal (poll TASK_QUEUE, host SPECS), or with --local
    drive the runs of the local database in a pool of worker processes."""
    if local:
        if specs:
            raise click.UsageError("--local loads each run's own spec; give no SPECS")
        serve_local_pool(db, root, jobs, runs_per_worker, graceful_shutdown)
        return
    if not address:
        raise click.UsageError("--address HOST:PORT is required (or BATON_TEMPORAL_ADDRESS)")
    loaded = [workflow for spec in specs for workflow in _load_all(spec, root)]
    identity = f"baton-worker-{os.getpid()}@{socket.gethostname()}"
    hosted = ", ".join(f"{w.workflow.name} ({w.pin[:12]})" for w in loaded) or "none yet"

    def ready() -> None:
        click.echo(
            f"{identity} polling task queue '{task_queue}' on {address} "
            f"(namespace {namespace}); hosting: {hosted}",
            err=True,
        )

    serve_temporal_worker(
        temporal_backend(address, namespace, task_queue),
        loaded,
        load_by_name,
        max_concurrent_attempts=max_concurrent_attempts,
        sticky_timeout_s=sticky_timeout,
        graceful_shutdown_s=graceful_shutdown,
        identity=identity,
        ready=ready,
    )
    click.echo(f"{identity} stopped", err=True)


def load_by_name(spec: str) -> LoadedWorkflow:
    """What a worker may load on demand: compiled workflow names and `module:attribute`
    (spec files are given to `baton worker` when it starts)."""
    if Path(spec).is_file() or Path(spec).is_absolute():
        raise RunError(f"spec file {spec} was not given to this worker")
    return load_spec(spec)


def _load_all(spec: str, root: str | None) -> list[LoadedWorkflow]:
    """SPEC as `baton run` loads it; a directory: each workflow spec in it (rosters and
    schemas are not workflows, and are skipped)."""
    path = Path(spec)
    if not path.is_dir():
        return [load_spec(spec, root)]
    found = []
    for file in sorted([*path.glob("*.yaml"), *path.glob("*.yml")]):
        try:
            found.append(load_spec(str(file), root))
        except click.UsageError:
            continue  # "holds no workflow": a roster
    if not found:
        raise click.UsageError(f"'{spec}' holds no workflow spec")
    return found
