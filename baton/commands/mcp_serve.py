"""`baton mcp serve [SPECS...] [--as NAME] [--db PATH]`: Baton as an MCP server over
stdio (baton.mcpserve, docs/tools.md "Baton as an MCP server"), so an MCP client (an
IDE assistant, a desktop chat app) can list workflows, start runs, read them, and list
and decide approvals as the principal NAME, proven by `BATON_TOKEN`.

SPECS are what `baton worker` takes (spec files, directories of specs, compiled
workflow names, `module:attribute`), compiled once at start; a spec with lint errors
stops the command before it serves. Nothing is written to stdout but the protocol.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from baton.commands._common import Refused, database, db_option
from baton.config import root_option

TOKEN_ENV = "BATON_TOKEN"


@click.group("mcp")
def mcp_group() -> None:
    """Baton and the Model Context Protocol."""


@mcp_group.command("serve")
@click.argument("specs", nargs=-1)
@click.option(
    "--as",
    "principal",
    envvar="BATON_PRINCIPAL",
    help="Who approves and rejects through this server (its token: $BATON_TOKEN); "
    "without it, decisions are refused. Default: $BATON_PRINCIPAL.",
)
@root_option
@db_option
def serve_command(
    specs: tuple[str, ...], principal: str | None, root: str | None, db: str | None
) -> None:
    """Serve Baton's tools over MCP on stdin/stdout: list_workflows, start_run,
    list_runs, run_status, list_approvals, approve, reject. SPECS: the workflows a
    client may start (and where a run's spec is found when the path it recorded is
    gone)."""
    from baton.commands.worker import _load_all
    from baton.console.loading import spec_loader
    from baton.mcpserve.server import serve_stdio
    from baton.mcpserve.service import Principal, Service
    from baton.runtime.api import LoadedWorkflow
    from baton.runtime.store import Store, StoreError

    # read once, and kept from every process the server starts (agents, tool servers)
    token = os.environ.pop(TOKEN_ENV, "")
    path = database(db)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with Store(path):  # creates the database (and the principals table) if needed
            pass
    except (StoreError, OSError) as error:
        raise Refused(f"cannot use the database {path}: {error}") from None
    workflows: dict[str, LoadedWorkflow] = {}
    for spec in specs:
        for loaded in _load_all(spec, root):
            other = workflows.get(loaded.workflow.name)
            if other is not None and other.spec != loaded.spec:
                raise click.UsageError(
                    f"two workflows named '{loaded.workflow.name}': {other.spec} and {loaded.spec}"
                )
            workflows[loaded.workflow.name] = loaded
    service = Service(
        path,
        workflows,
        spec_loader(root, tuple(s for s in specs if Path(s).exists())),
        Principal(principal, token),
    )
    names = ", ".join(sorted(workflows)) or "none"
    who = principal or "nobody (decisions refused; pass --as NAME)"
    click.echo(
        f"baton mcp serve: stdio, database {path}; workflows: {names}; decides as {who}",
        err=True,
    )
    try:
        serve_stdio(service)
    except KeyboardInterrupt:  # Ctrl-C: a run it was driving stays resumable
        click.echo("baton mcp serve: interrupted", err=True)
