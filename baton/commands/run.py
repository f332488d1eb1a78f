"""`baton run SPEC` and `baton resume RUN`: start a run, or continue one, and follow it.

Exit codes: 0 the run succeeded, 1 it failed (or was cancelled, or the spec has lint
errors), 2 a usage error or a refusal, 3 it waits for an approval (with `--detach`).
"""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

import click

from baton.commands._backend import backend_options
from baton.commands._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_WAITING,
    Refused,
    cassette_options,
    compact,
    parse_input,
    refusals,
)
from baton.commands._load import load_spec
from baton.commands._progress import Progress
from baton.config import root_option
from baton.runtime import api
from baton.runtime.backend import Backend, Follow


@click.command("run")
@click.argument("spec")
@click.option("--input", "input_text", help="The run input: JSON, or @file.json.")
@click.option("--run-id", help="Name the run; an existing id is not started again.")
@click.option("--dry-run", is_flag=True, help="Print the plan; call no agent, write nothing.")
@click.option("--detach", is_flag=True, help="Exit 3 instead of waiting for an approval.")
@click.option("--log-json", is_flag=True, help="A JSON log line per finished attempt (stderr).")
@cassette_options
@root_option
@backend_options
@refusals
def run_command(
    spec: str,
    input_text: str | None,
    run_id: str | None,
    dry_run: bool,
    detach: bool,
    log_json: bool,
    root: str | None,
    backend: Backend,
) -> None:
    """Run the workflow in SPEC (a spec file or a compiled workflow's name)."""
    _terminate_gracefully()
    inputs = parse_input(input_text)
    loaded = load_spec(spec, root)
    if dry_run:
        _dry_run(loaded, inputs)
        return
    inputs = {} if inputs is None else inputs
    if run_id is not None:
        api.check_run_id(run_id)
        existing = backend.existing(run_id)
        if existing is not None:
            _not_again(run_id, existing)
    run_id = run_id or api.new_run_id(loaded.workflow.name)
    try:
        with Progress(run_id, live=False if log_json else None) as progress:
            follow = Follow(detach, api.observers(progress, sys.stderr if log_json else None))
            result = backend.start(loaded, inputs, run_id, follow)
    except api.RunExists:  # started by another process just now
        _not_again(run_id, backend.existing(run_id))
    except KeyboardInterrupt:
        _interrupted(backend, run_id)
    _finish(backend, result)


@click.command("resume")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--allow-spec-change",
    is_flag=True,
    help="Continue on a changed spec if every step keeps its needs and output handoff.",
)
@click.option("--detach", is_flag=True, help="Exit 3 instead of waiting for an approval.")
@click.option("--log-json", is_flag=True, help="A JSON log line per finished attempt (stderr).")
@cassette_options
@root_option
@backend_options
@refusals
def resume_command(
    run_id: str,
    allow_spec_change: bool,
    detach: bool,
    log_json: bool,
    root: str | None,
    backend: Backend,
) -> None:
    """Continue RUN from where its log ends; committed steps never run again."""
    _terminate_gracefully()

    def load_again(spec: str) -> api.LoadedWorkflow:
        return _load_again(spec, root)

    try:
        with Progress(run_id, live=False if log_json else None) as progress:
            follow = Follow(detach, api.observers(progress, sys.stderr if log_json else None))
            result = backend.resume(run_id, load_again, allow_spec_change, follow)
    except KeyboardInterrupt:
        _interrupted(backend, run_id)
    _finish(backend, result)


def _not_again(run_id: str, existing: api.RunState | None) -> NoReturn:
    """An id that was used already: say so, and exit as that run stands (1 if it cannot
    be read)."""
    status = existing.status if existing is not None else "unknown"
    click.echo(f"run {run_id} already exists ({status}); not started again")
    if existing is None:
        sys.exit(EXIT_FAILED)
    sys.exit(_exit_code(existing, detached=existing.status == "waiting"))


def _load_again(spec: str, root: str | None) -> api.LoadedWorkflow:
    """The spec a run started from; a spec that is gone is a refusal, not a usage error."""
    try:
        return load_spec(spec, root)
    except click.UsageError as error:
        raise Refused(f"cannot load the spec this run started from: {error.message}") from None


def _dry_run(loaded: api.LoadedWorkflow, inputs: object) -> None:
    lines, problems = api.dry_run(loaded.workflow, inputs)
    for line in lines:
        click.echo(line)
    if problems:
        raise Refused("the plan has errors:\n  " + "\n  ".join(problems))
    click.echo("dry run: no agent called, nothing written")


def _exit_code(state: api.RunState, detached: bool) -> int:
    if state.status == "succeeded":
        return EXIT_OK
    if state.status in ("failed", "cancelled"):
        return EXIT_FAILED
    return EXIT_WAITING if detached else EXIT_OK


def _finish(backend: Backend, result: api.DriveResult) -> NoReturn:
    """The closing line (the progress lines leave it to this one), and the exit code
    that says how the run ended."""
    state = result.state
    if state.status == "succeeded":
        click.echo(f"run {state.run_id} succeeded; result: {compact(state.result, 400)}")
    elif state.status in ("failed", "cancelled"):
        message = (state.error or {}).get("message", "")
        click.echo(f"run {state.run_id} {state.status}" + (f": {message}" if message else ""))
    elif result.detached:
        waiting = [
            f"{step} (role '{record.approval.role}')"
            for step, record in state.steps.items()
            if record.approval is not None and record.approval.decision is None
        ]
        what = ", ".join(waiting) or "a child run"
        if backend.drives_itself:  # its workers go on by themselves once decided
            then = ""
            flag = f" --backend {backend.name}"
        else:
            then = f", then `baton resume {state.run_id}`"
            flag = ""
        click.echo(
            f"run {state.run_id} is waiting for a decision on {what}; "
            f"decide with `baton approve {state.run_id} STEP --as PRINCIPAL{flag}` "
            f"(or reject){then}"
        )
    sys.exit(_exit_code(state, result.detached))


def _terminate_gracefully() -> None:
    """SIGTERM unwinds like Ctrl-C, so the run's lease is released on the way out (a
    killed process's lease is taken over too, but only once its process is gone)."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _interrupted(backend: Backend, run_id: str) -> NoReturn:
    if backend.drives_itself:
        click.echo(f"interrupted; run {run_id} goes on in Temporal", err=True)
    else:
        click.echo(
            f"interrupted; run {run_id} keeps its progress: continue with `baton resume {run_id}`",
            err=True,
        )
    sys.exit(130)
