"""`--backend local|temporal` for the run commands: the options, and the runtime backend
(runtime.backend) they choose, passed to the command as `backend`.

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
from typing import Any, TypeVar, cast

import click

from baton.commands._common import database, db_option
from baton.runtime.backend import Backend, LocalBackend, TemporalBackend
from baton.runtime.testing import HookError, kill_after_event_hook

F = TypeVar("F", bound=Callable[..., Any])
HEARTBEAT_ENV = "BATON_TEMPORAL_HEARTBEAT_MS"  # how soon a dead worker's attempt reruns


def local_backend(db: str | None) -> LocalBackend:
    """The database `--db` names, with the crash tests' hook if their variable asks."""
    try:
        hook = kill_after_event_hook()
    except HookError as error:
        raise click.UsageError(str(error)) from None
    return LocalBackend(database(db), after_commit=hook)


def temporal_backend(address: str | None, namespace: str, task_queue: str) -> TemporalBackend:
    heartbeat = os.environ.get(HEARTBEAT_ENV, "").strip()
    if heartbeat and not heartbeat.isdigit():
        raise click.UsageError(f"{HEARTBEAT_ENV} must be a number of milliseconds")
    return TemporalBackend(address, namespace, task_queue, int(heartbeat) if heartbeat else None)


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
    """`--backend`, `--db` and the Temporal options, passed to the command as `backend`."""

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        backend: str,
        db: str | None,
        address: str | None,
        namespace: str,
        task_queue: str,
        **kwargs: Any,
    ) -> Any:
        chosen: Backend = (
            temporal_backend(address, namespace, task_queue)
            if backend == "temporal"
            else local_backend(db)
        )
        # the database `--db` names, for what a command keeps locally on any backend
        # (the principals `baton approve` checks tokens against)
        click.get_current_context().meta["baton.db"] = db
        return command(*args, backend=chosen, **kwargs)

    return db_option(backend_choice(cast(F, temporal_options(wrapper))))


def backend_choice(command: F) -> F:
    """`--backend local|temporal` (or $BATON_BACKEND), as the plain string."""
    return click.option(
        "--backend",
        type=click.Choice(["local", "temporal"]),
        envvar="BATON_BACKEND",
        default="local",
        show_default=True,
        help="Where runs live: the local database or a Temporal cluster (or $BATON_BACKEND).",
    )(command)
