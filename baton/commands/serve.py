"""`baton serve`: the web console and JSON API (baton/console, docs/console.md), and a
local driver that continues a run once a decision for it arrives.

Loopback only unless `--allow-remote`: the console decides gates, so it must not be
reachable from the network by accident; beyond loopback, put it behind TLS (its
session cookie is then marked Secure).
"""

from __future__ import annotations

import ipaddress
import socket

import click

from baton.commands._common import Refused, database, db_option
from baton.config import root_option

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
@root_option
@db_option
def serve_command(
    specs: tuple[str, ...],
    host: str,
    port: int,
    allow_remote: bool,
    root: str | None,
    db: str | None,
) -> None:
    """Serve the web console and JSON API for the runs in the database; continue a run
    when a decision for it arrives. SPECS: spec files or directories to find a run's
    spec in when the path it recorded is gone."""
    if not is_loopback(host) and not allow_remote:
        raise Refused(
            f"refusing to bind {host}: the console decides approvals, so it listens on "
            "loopback only; pass --allow-remote to bind another address, and put it "
            "behind TLS (docs/console.md)"
        )
    import uvicorn

    from baton.console.app import Config, create_app
    from baton.console.driving import Continuer
    from baton.console.loading import spec_loader
    from baton.runtime import identity
    from baton.runtime.backend import LocalBackend
    from baton.runtime.store import Store, StoreError

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
    backend = LocalBackend(path)
    config = Config(
        db=path,
        backend=backend,
        load=load,
        continuer=Continuer(backend, load),
        remote=not is_loopback(host),
    )
    config.continuer.watch(path)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"baton serve: http://{shown}:{port}/ (database {path})", err=True)
    if not live:
        click.echo(
            "no principals yet: nobody can log in; add one with `baton principal add NAME`",
            err=True,
        )
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False)


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
