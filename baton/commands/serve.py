"""`baton serve`: the web console and JSON API (baton/console, docs/console.md), and a
local driver that continues a run once a decision for it arrives.

`--backend temporal`: the console reads the runs of a Temporal cluster (the task queue
given) and sends decisions as the workflow's Update; the workers drive the runs, so
serve drives nothing there. Principals (the tokens people log in with) stay in the
local database `--db` on either backend: identity is the console's.

Loopback only unless `--allow-remote`: the console decides gates, so it must not be
reachable from the network by accident; beyond loopback, put it behind TLS (its
session cookie is then marked Secure).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from baton.commands._backend import backend_choice, temporal_options
from baton.commands._common import Refused, database, db_option
from baton.config import root_option

if TYPE_CHECKING:
    from baton.console.sources import ConsoleSource
    from baton.console.views import LoadWorkflow

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost")
    (True, True, True)
    >>> is_loopback("0.0.0.0"), is_loopback("192.168.1.2"), is_loopback("example.com")
    (False, False, False)
    """
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.argument("specs", nargs=-1, type=click.Path())
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to bind.")
@click.option(
    "--port", default=8700, show_default=True, type=click.IntRange(1, 65535), help="The port."
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Bind an address beyond loopback (put the console behind TLS).",
)
@backend_choice
@temporal_options
@root_option
@db_option
def serve_command(
    specs: tuple[str, ...],
    host: str,
    port: int,
    allow_remote: bool,
    backend: str,
    address: str | None,
    namespace: str,
    task_queue: str,
    root: str | None,
    db: str | None,
) -> None:
    """Serve the web console and JSON API for the runs in the database (or, with
    `--backend temporal`, on a Temporal task queue); locally, continue a run when a
    decision for it arrives. SPECS: spec files or directories to find a run's spec in
    when the path it recorded is gone. Principals are always the database's."""
    if not is_loopback(host) and not allow_remote:
        raise Refused(
            f"refusing to bind {host}: the console decides approvals, so it listens on "
            "loopback only; pass --allow-remote to bind another address, and put it "
            "behind TLS (docs/console.md)"
        )
    import uvicorn

    from baton.console.app import Config, create_app
    from baton.console.loading import spec_loader
    from baton.runtime import identity
    from baton.runtime.store import Store, StoreError

    if backend == "temporal":
        _check_temporal(address, task_queue)

    path = database(db)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with Store(path):  # creates the database (and the principals table) if needed
            pass
        live = identity.enforced(path)
    except (StoreError, OSError) as error:
        raise Refused(f"cannot use the database {path}: {error}") from None
    _check_can_listen(host, port)
    load = spec_loader(root, specs)
    source, stop = _source(backend, path, load, address, namespace, task_queue)
    config = Config(db=path, source=source, load=load, remote=not is_loopback(host))
    shown = f"[{host}]" if ":" in host else host
    where = f"database {path}"
    if backend == "temporal":
        where = f"Temporal {address} task queue {task_queue}; principals in {path}"
    click.echo(f"baton serve: http://{shown}:{port}/ ({where})", err=True)
    if not live:
        click.echo(
            "no principals yet: nobody can log in; add one with `baton principal add NAME`",
            err=True,
        )
    try:
        uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False)
    finally:
        stop()


def _check_temporal(address: str | None, task_queue: str) -> None:
    if not address:
        raise click.UsageError(
            "--backend temporal needs --address HOST:PORT (or BATON_TEMPORAL_ADDRESS)"
        )
    if not task_queue or any(c in task_queue for c in "\"'\\"):
        # it goes into a visibility query between double quotes
        raise click.UsageError("--task-queue must not be empty or contain quotes or backslashes")


def _source(
    backend: str,
    db: Path,
    load: LoadWorkflow,
    address: str | None,
    namespace: str,
    task_queue: str,
) -> tuple[ConsoleSource, Callable[[], None]]:
    """The runs the console shows, and what stops it when the server stops. Locally,
    a Continuer drives decided runs (and watches for decisions made elsewhere)."""
    if backend == "temporal":
        from baton.console.temporal_source import TemporalSource
        from baton.runtime.temporal.client import Target

        assert address is not None
        temporal = TemporalSource(Target(address, namespace, task_queue))
        return temporal, temporal.close
    from baton.console.driving import Continuer
    from baton.console.sources import LocalSource
    from baton.runtime.backend import LocalBackend

    continuer = Continuer(LocalBackend(db), load)
    watching = continuer.watch(db)
    return LocalSource(db, continuer), watching.set


def _check_can_listen(host: str, port: int) -> None:
    """Refuse with one line (exit 2) when the address cannot be bound (in use, not an
    address of this machine), before the server starts."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        reason = error.strerror or str(error)
        raise Refused(f"cannot listen on {host}:{port}: {reason}") from None
