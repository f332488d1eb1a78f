"""`baton run SPEC` and `baton resume RUN`: drive a run on the local backend.

Exit codes: 0 the run succeeded, 1 it failed (or was cancelled, or the spec has lint
errors), 2 a usage error or a refusal, 3 it waits for an approval (with `--detach`).
"""

from __future__ import annotations

import signal
import sys

import click

from baton.commands._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_WAITING,
    Refused,
    compact,
    database,
    db_option,
    parse_input,
    refusals,
)
from baton.commands._load import load_spec
from baton.commands._progress import Progress
from runtime import api
from runtime.core.state import RunState


@click.command("run")
@click.argument("spec")
@click.option("--input", "input_text", help="The run input: JSON, or @file.json.")
@click.option("--run-id", help="Name the run; an existing id is not started again.")
@click.option("--dry-run", is_flag=True, help="Print the plan; call no agent, write nothing.")
@click.option("--detach", is_flag=True, help="Exit 3 instead of waiting for an approval.")
@db_option
@refusals
def run_command(
    spec: str,
    input_text: str | None,
    run_id: str | None,
    dry_run: bool,
    detach: bool,
    db: str | None,
) -> None:
    """Run the workflow in SPEC (a spec file or a compiled workflow's name)."""
    _terminate_gracefully()
    inputs = parse_input(input_text)
    loaded = load_spec(spec)
    if dry_run:
        _dry_run(loaded, inputs)
        return
    inputs = {} if inputs is None else inputs
    path = database(db)
    if run_id is not None and path.exists():
        api.check_run_id(run_id)
        try:
            existing = api.get_state(path, run_id)
        except api.UnknownRun:
            existing = None
        if existing is not None:
            click.echo(f"run {run_id} already exists ({existing.status}); not started again")
            sys.exit(_exit_code(existing, detached=existing.status == "waiting"))
    run_id = run_id or api.new_run_id(loaded.workflow.name)
    try:
        with Progress(run_id) as progress:
            options = api.DriverOptions(detach=detach, on_event=progress)
            result = api.start_run(path, loaded, inputs, run_id, options)
    except api.RunExists:
        state = api.get_state(path, run_id)  # started by another process just now
        click.echo(f"run {run_id} already exists ({state.status}); not started again")
        sys.exit(_exit_code(state, detached=state.status == "waiting"))
    except KeyboardInterrupt:
        _interrupted(run_id)
    _finish(result.state, result.detached)


@click.command("resume")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--allow-spec-change",
    is_flag=True,
    help="Continue on a changed spec if every step keeps its needs and output handoff.",
)
@click.option("--detach", is_flag=True, help="Exit 3 instead of waiting for an approval.")
@db_option
@refusals
def resume_command(run_id: str, allow_spec_change: bool, detach: bool, db: str | None) -> None:
    """Continue RUN from where its log ends; committed steps never run again."""
    _terminate_gracefully()
    path = database(db)
    try:
        with Progress(run_id) as progress:
            options = api.DriverOptions(detach=detach, on_event=progress)
            result = api.resume_run(path, run_id, _load_again, allow_spec_change, options)
    except KeyboardInterrupt:
        _interrupted(run_id)
    _finish(result.state, result.detached)


def _load_again(spec: str) -> api.LoadedWorkflow:
    """The spec a run started from; a spec that is gone is a refusal, not a usage error."""
    try:
        return load_spec(spec)
    except click.UsageError as error:
        raise Refused(f"cannot load the spec this run started from: {error.message}") from None


def _dry_run(loaded: api.LoadedWorkflow, inputs: object) -> None:
    from runtime.driver.dryrun import describe, dry_run

    if inputs is not None:
        api.validate_inputs(loaded.workflow, inputs)
    plan = dry_run(loaded.workflow, inputs)
    for line in describe(plan):
        click.echo(line)
    if plan.problems:
        raise Refused("the plan has errors:\n  " + "\n  ".join(plan.problems))
    click.echo("dry run: no agent called, nothing written")


def _exit_code(state: RunState, detached: bool) -> int:
    if state.status == "succeeded":
        return EXIT_OK
    if state.status in ("failed", "cancelled"):
        return EXIT_FAILED
    return EXIT_WAITING if detached else EXIT_OK


def _finish(state: RunState, detached: bool) -> None:
    """The closing line, and the exit code that says how the run ended."""
    if state.status == "succeeded":
        click.echo(f"run {state.run_id} succeeded; result: {compact(state.result, 400)}")
    elif state.status in ("failed", "cancelled"):
        message = (state.error or {}).get("message", "")
        click.echo(f"run {state.run_id} {state.status}" + (f": {message}" if message else ""))
    elif detached:
        waiting = [
            f"{step} (role '{record.approval.role}')"
            for step, record in state.steps.items()
            if record.approval is not None and record.approval.decision is None
        ]
        what = ", ".join(waiting) or "a child run"
        click.echo(
            f"run {state.run_id} is waiting for a decision on {what}; "
            f"decide with `baton approve {state.run_id} STEP --as PRINCIPAL` "
            f"(or reject), then `baton resume {state.run_id}`"
        )
    sys.exit(_exit_code(state, detached))


def _terminate_gracefully() -> None:
    """SIGTERM unwinds like Ctrl-C, so the run's lease is released on the way out (a
    killed process's lease is taken over too, but only once its process is gone)."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _interrupted(run_id: str) -> None:
    click.echo(
        f"interrupted; run {run_id} keeps its progress: continue with `baton resume {run_id}`",
        err=True,
    )
    sys.exit(130)
