"""`--backend local|temporal` for the run commands, and the calls that differ by backend.

The local backend is the SQLite database (`--db`); the Temporal backend is a cluster
(`--address`, `--namespace`) whose workers (`baton worker`) poll `--task-queue`. Each
option also reads an environment variable, so a shell can pick a backend once:
`BATON_BACKEND`, `BATON_TEMPORAL_ADDRESS`, `BATON_TEMPORAL_NAMESPACE`,
`BATON_TEMPORAL_TASK_QUEUE`. The commands print the same things on both backends.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from baton.commands._common import database
from baton.commands._load import configured_root, load_spec
from baton.runtime import api
from baton.runtime.core.state import RunState
from baton.runtime.model import JSON

if TYPE_CHECKING:
    from baton.runtime.temporal.client import Target

F = TypeVar("F", bound=Callable[..., Any])
HEARTBEAT_ENV = "BATON_TEMPORAL_HEARTBEAT_MS"  # how soon a dead worker's attempt reruns


@dataclass(frozen=True)
class Backend:
    """Which backend a command talks to, and where the Temporal one is."""

    name: str = "local"
    address: str | None = None
    namespace: str = "default"
    task_queue: str = "baton"

    @property
    def temporal(self) -> bool:
        return self.name == "temporal"

    def target(self) -> Target:
        from baton.runtime.temporal.client import Target

        if not self.address:
            raise click.UsageError(
                "--backend temporal needs --address HOST:PORT (or BATON_TEMPORAL_ADDRESS)"
            )
        return Target(self.address, self.namespace, self.task_queue)


def temporal_options(command: F) -> F:
    """`--address`, `--namespace`, `--task-queue` (also used by `baton worker`)."""
    options = (
        click.option(
            "--address",
            envvar="BATON_TEMPORAL_ADDRESS",
            metavar="HOST:PORT",
            help="The Temporal frontend (default: $BATON_TEMPORAL_ADDRESS).",
        ),
        click.option(
            "--namespace",
            envvar="BATON_TEMPORAL_NAMESPACE",
            default="default",
            show_default=True,
            help="The Temporal namespace (or $BATON_TEMPORAL_NAMESPACE).",
        ),
        click.option(
            "--task-queue",
            envvar="BATON_TEMPORAL_TASK_QUEUE",
            default="baton",
            show_default=True,
            help="The task queue Baton's workers poll (or $BATON_TEMPORAL_TASK_QUEUE).",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


def backend_options(command: F) -> F:
    """`--backend` and the Temporal options, passed to the command as `backend`."""

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        backend: str,
        address: str | None,
        namespace: str,
        task_queue: str,
        **kwargs: Any,
    ) -> Any:
        chosen = Backend(backend, address, namespace, task_queue)
        return command(*args, backend=chosen, **kwargs)

    wrapped = cast(F, temporal_options(wrapper))
    return click.option(
        "--backend",
        type=click.Choice(["local", "temporal"]),
        envvar="BATON_BACKEND",
        default="local",
        show_default=True,
        help="Where runs live: the local database or a Temporal cluster (or $BATON_BACKEND).",
    )(wrapped)


# -- loading workflows for Temporal


def load_pinned(spec: str, root: str | None = None) -> api.LoadedWorkflow:
    """`load_spec`, with a pin that does not depend on the working directory.

    Generated code names its spec files relative to the working directory, and a pin
    covers the generated code; the process that starts a run and the workers that run
    it rarely share one. So a spec file is compiled from its own directory (on the
    command line's one thread, before any worker thread exists).
    """
    path = Path(spec)
    if not path.is_file():
        return load_spec(spec, root)
    absolute = path.resolve()
    # before the chdir: a relative root names a directory from here
    chosen = configured_root(root)
    root_dir = str(Path(chosen).absolute()) if chosen is not None else None
    previous = Path.cwd()
    os.chdir(absolute.parent)
    try:
        return load_spec(str(absolute), root_dir)
    finally:
        os.chdir(previous)


def load_by_name(spec: str) -> api.LoadedWorkflow:
    """What a worker may load on demand: compiled workflow names and `module:attribute`
    (spec files are given to `baton worker` when it starts: see `load_pinned`)."""
    if Path(spec).is_file() or Path(spec).is_absolute():
        raise api.RunError(f"spec file {spec} was not given to this worker")
    return load_spec(spec)


# -- the calls that differ by backend


def get_state(backend: Backend, db: str | None, run_id: str) -> RunState:
    if not backend.temporal:
        return api.get_state(database(db), run_id)
    from baton.runtime.temporal import client

    return client.blocking(client.with_client(backend.target(), lambda c: client.state(c, run_id)))


def get_events(backend: Backend, db: str | None, run_id: str) -> list[dict[str, JSON]]:
    if not backend.temporal:
        return api.get_events(database(db), run_id)
    from baton.runtime.temporal import client

    return client.blocking(client.with_client(backend.target(), lambda c: client.events(c, run_id)))


def decide(
    backend: Backend,
    db: str | None,
    kind: str,
    run_id: str,
    step: str | None,
    principal: str,
    comment: str,
) -> str:
    """approve | reject | cancel: "applied", or what happened instead."""
    if not backend.temporal:
        if kind == "cancel":
            return api.cancel(database(db), run_id, by=principal)
        decision = api.approve if kind == "approve" else api.reject
        assert step is not None
        return decision(database(db), run_id, step, principal, comment)
    from baton.runtime.temporal import client

    return client.blocking(
        client.with_client(
            backend.target(),
            lambda c: client.decide(c, run_id, kind, step, principal, comment),
        )
    )


def existing_run(backend: Backend, run_id: str) -> RunState | None:
    """The run `run_id` on Temporal if it was ever started, else None."""
    try:
        return get_state(backend, None, run_id)
    except api.UnknownRun:
        return None


def start_and_watch(
    backend: Backend,
    loaded: api.LoadedWorkflow,
    inputs: JSON,
    run_id: str,
    detach: bool,
    on_event: Callable[..., None],
) -> tuple[RunState, bool]:
    """Start a run on Temporal and follow it: its state, and whether it detached."""
    from baton.runtime.temporal import client
    from baton.runtime.temporal.messages import DEFAULT_HEARTBEAT_MS

    heartbeat_ms = int(os.environ.get(HEARTBEAT_ENV) or DEFAULT_HEARTBEAT_MS)

    async def go(connection: Any) -> tuple[RunState, bool]:
        await client.start(connection, backend.target(), loaded, inputs, run_id, heartbeat_ms)
        return await client.watch(connection, run_id, detach=detach, on_event=on_event)

    return client.blocking(client.with_client(backend.target(), go))
