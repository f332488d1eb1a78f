"""`baton approve|reject RUN STEP --as PRINCIPAL` and `baton cancel RUN`.

A decision is checked against the run at once (an unknown step, a principal without the
role, a step that is not waiting: exit 2). It is then recorded in the run's log: by
this process if no process drives the run, else by the driving process within a
fraction of a second. Who, when, role and comment are in the event log.
"""

from __future__ import annotations

import click

from baton.commands._backend import backend_options
from baton.commands._common import os_user, refusals
from baton.runtime import api
from baton.runtime.backend import Backend


def _decision(kind: str) -> click.Command:
    verb = "Approve" if kind == "approve" else "Reject"

    @click.command(kind)
    @click.argument("run_id", metavar="RUN")
    @click.argument("step")
    @click.option("--as", "principal", required=True, help="Who decides (must hold the role).")
    @click.option("--comment", default="", help="Why; kept in the event log.")
    @backend_options
    @refusals
    def command(run_id: str, step: str, principal: str, comment: str, backend: Backend) -> None:
        outcome = backend.decide(kind, run_id, step, principal, comment)
        past = "approved" if kind == "approve" else "rejected"
        done = f"step {step} {past} by {principal}" if outcome == "applied" else outcome
        click.echo(f"{run_id}: {done}")

    command.help = f"{verb} the gated STEP of RUN as PRINCIPAL."
    return command


approve_command = _decision(api.APPROVE)
reject_command = _decision(api.REJECT)


@click.command("cancel")
@click.argument("run_id", metavar="RUN")
@backend_options
@refusals
def cancel_command(run_id: str, backend: Backend) -> None:
    """Cancel RUN: every step still in motion is cancelled."""
    outcome = backend.decide(api.CANCEL, run_id, None, os_user(), "")
    click.echo(f"{run_id}: {'cancelled' if outcome == 'applied' else outcome}")
