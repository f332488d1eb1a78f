"""`baton principal add|list|revoke`: who may decide gates, each with a token.

`add` prints the new token once; the database keeps only its sha256 (runtime.identity).
Once a principal that is not revoked exists, `baton approve|reject --as NAME` needs
NAME's token (`BATON_TOKEN`, or a hidden prompt on a terminal).
"""

from __future__ import annotations

import time

import click

from baton.commands._common import Refused, clock, database, db_option
from baton.runtime import identity
from baton.runtime.store import StoreError


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@click.group("principal")
def principal_group() -> None:
    """Principals who may approve or reject, each proven by a token."""


@principal_group.command("add")
@click.argument("name")
@db_option
def add_command(name: str, db: str | None) -> None:
    """Add principal NAME and print its token, once (only its hash is stored)."""
    try:
        token = identity.add(database(db), name, _now_ms())
    except (identity.IdentityError, StoreError) as error:
        raise Refused(str(error)) from None
    click.echo(f"principal {name} added; its token (shown only this once):", err=True)
    click.echo(token)


@principal_group.command("list")
@db_option
def list_command(db: str | None) -> None:
    """List principals: name, created, revoked (never tokens)."""
    try:
        principals = identity.listing(database(db))
    except StoreError as error:
        raise Refused(str(error)) from None
    if not principals:
        click.echo("no principals: decisions are not verified (identity is unverified)")
        return
    click.echo(f"{'NAME':<24} {'CREATED':<19}  REVOKED")
    for principal in principals:
        click.echo(
            f"{principal.name:<24} {clock(principal.created_ms):<19}  {clock(principal.revoked_ms)}"
        )


@principal_group.command("revoke")
@click.argument("name")
@db_option
def revoke_command(name: str, db: str | None) -> None:
    """Revoke NAME's token: it stops working at once."""
    try:
        identity.revoke(database(db), name, _now_ms())
    except (identity.IdentityError, StoreError) as error:
        raise Refused(str(error)) from None
    click.echo(f"principal {name} revoked")
