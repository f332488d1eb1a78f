"""`baton approve|reject RUN STEP --as PRINCIPAL` and `baton cancel RUN`.

A decision is checked against the run at once (an unknown step, a principal without the
role, a step that is not waiting: exit 2). It is then recorded in the run's log: by
this process if no process drives the run, else by the driving process within a
fraction of a second. Who, when, role, comment and channel (`cli`) are in the event log.

Identity: once a principal that is not revoked exists (`baton principal add`), `--as
NAME` needs NAME's token: `BATON_TOKEN`, else a hidden prompt when stdin is a terminal,
else the decision is refused (exit 2, nothing written). The token is checked here
against the principals of the local database (`--db`), on either backend; only then
is the decision sent (on Temporal, through the `baton_decision` Update). Before any
principal exists, decisions work as they did and a warning says identity is unverified.
"""

from __future__ import annotations

import os
import sys

import click

from baton.commands._backend import backend_options
from baton.commands._common import Refused, database, os_user, refusals
from baton.runtime import api, identity
from baton.runtime.api import RunError
from baton.runtime.backend import Backend
from baton.runtime.store import StoreError

TOKEN_ENV = "BATON_TOKEN"
CHANNEL = "cli"


def _check_identity(principal: str) -> None:
    """Refuse (exit 2, before anything is written) unless the caller proves
    `principal`, when principals exist; else warn that identity is unverified."""
    db = database(click.get_current_context().meta.get("baton.db"))
    try:
        if not identity.enforced(db):
            click.echo(
                "warning: identity is unverified (no principals; see `baton principal add`)",
                err=True,
            )
            return
        token = os.environ.get(TOKEN_ENV, "")
        if not token and sys.stdin.isatty():
            token = click.prompt(
                f"token for {principal}", hide_input=True, default="", show_default=False
            )
        if not token:
            raise Refused(
                f"principal '{principal}' needs its token: set {TOKEN_ENV} "
                "(or run on a terminal to be asked)"
            )
        identity.verify(db, principal, token)
    except identity.IdentityError as error:
        raise Refused(str(error)) from None
    except StoreError as error:
        raise Refused(str(error)) from None


def _decision(kind: str) -> click.Command:
    verb = "Approve" if kind == "approve" else "Reject"

    @click.command(kind)
    @click.argument("run_id", metavar="RUN")
    @click.argument("step")
    @click.option(
        "--as",
        "principal",
        required=True,
        help="Who decides (holds the role; once principals exist: $BATON_TOKEN or a prompt).",
    )
    @click.option("--comment", default="", help="Why; kept in the event log.")
    @click.option(
        "--shown-sha256",
        "shown",
        metavar="HEX",
        help="The subject's sha256 you were shown (`baton approvals`, the console): "
        "refused if what the step would get has changed since.",
    )
    @backend_options
    @refusals
    def command(
        run_id: str,
        step: str,
        principal: str,
        comment: str,
        shown: str | None,
        backend: Backend,
    ) -> None:
        _check_identity(principal)
        sha256 = _subject_sha256(backend, run_id, step, shown)
        outcome = backend.decide(kind, run_id, step, principal, comment, CHANNEL, sha256)
        past = "approved" if kind == "approve" else "rejected"
        done = f"step {step} {past} by {principal}" if outcome == "applied" else outcome
        click.echo(f"{run_id}: {done}")
        if sha256:
            click.echo(f"subject sha256: {sha256}")

    command.help = f"{verb} the gated STEP of RUN as PRINCIPAL."
    return command


def _subject_sha256(backend: Backend, run_id: str, step: str, shown: str | None) -> str | None:
    """The sha256 of what the gate of `step` shows now (runtime.approval_subject): the
    decision is bound to it. `shown`, if given, must still match it. None (the decision
    is not bound, with a warning) when the run's spec cannot be loaded here."""
    from baton.commands._load import load_spec
    from baton.runtime.approval_subject import NoSubject, subject, tool_subject

    try:
        state = backend.state(run_id)
    except (RunError, StoreError):
        return shown  # the decision itself says why (an unknown run, no database)
    called = tool_subject(state, step)  # a model's tool call: in the state, no spec needed
    if called is not None:
        return _matching(step, shown, called.sha256)
    try:
        loaded = load_spec(state.spec)
    except (click.ClickException, OSError, ValueError, ImportError) as error:
        message = error.format_message() if isinstance(error, click.ClickException) else error
        click.echo(
            f"warning: cannot load the run's spec ({message}); the decision is not bound "
            "to what the step will get",
            err=True,
        )
        return shown
    try:
        current = subject(loaded.workflow, state, step).sha256
    except NoSubject:
        return shown  # the decision is refused with the reason
    return _matching(step, shown, current)


def _matching(step: str, shown: str | None, current: str) -> str:
    if shown and shown.lower() != current:
        raise Refused(
            f"what step '{step}' would get has changed since it was shown "
            f"(shown {shown[:12]}, now {current[:12]}): look at it again"
        )
    return current


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
