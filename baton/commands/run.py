"""`baton run SPEC` and `baton resume RUN`: drive a run on the local backend.

Exit codes: 0 the run succeeded, 1 it failed (or was cancelled, or the spec has lint
errors), 2 a usage error or a refusal, 3 it waits for an approval (with `--detach`).
"""

from __future__ import annotations

import atexit
import signal
import sys

import click

from baton.commands._backend import (
    Backend,
    backend_options,
    existing_run,
    load_pinned,
    start_and_watch,
)
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
from baton.config import root_option
from baton.runtime import api
from baton.runtime.core.state import RunState


@click.command("run")
@click.argument("spec")
@click.option("--input", "input_text", help="The run input: JSON, or @file.json.")
@click.option("--run-id", help="Name the run; an existing id is not started again.")
@click.option("--dry-run", is_flag=True, help="Print the plan; call no agent, write nothing.")
@click.option("--detach", is_flag=True, help="Exit 3 instead of waiting for an approval.")
@click.option("--log-json", is_flag=True, help="A JSON log line per finished attempt (stderr).")
@root_option
@db_option
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
    db: str | None,
    backend: Backend,
) -> None:
    """Run the workflow in SPEC (a spec file or a compiled workflow's name)."""
    _terminate_gracefully()
    inputs = parse_input(input_text)
    loaded = load_pinned(spec, root) if backend.temporal else load_spec(spec, root)
    if dry_run:
        _dry_run(loaded, inputs)
        return
    inputs = {} if inputs is None else inputs
    if backend.temporal:
        _run_on_temporal(backend, loaded, inputs, run_id, detach)
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
        with Progress(run_id, live=False if log_json else None) as progress:
            options = api.DriverOptions(detach=detach, on_event=_observers(progress, log_json))
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
@click.option("--log-json", is_flag=True, help="A JSON log line per finished attempt (stderr).")
@root_option
@db_option
@refusals
def resume_command(
    run_id: str,
    allow_spec_change: bool,
    detach: bool,
    log_json: bool,
    root: str | None,
    db: str | None,
) -> None:
    """Continue RUN from where its log ends; committed steps never run again."""
    _terminate_gracefully()
    path = database(db)

    def load_again(spec: str) -> api.LoadedWorkflow:
        return _load_again(spec, root)

    try:
        with Progress(run_id, live=False if log_json else None) as progress:
            options = api.DriverOptions(detach=detach, on_event=_observers(progress, log_json))
            result = api.resume_run(path, run_id, load_again, allow_spec_change, options)
    except KeyboardInterrupt:
        _interrupted(run_id)
    _finish(result.state, result.detached)


def _run_on_temporal(
    backend: Backend, loaded: api.LoadedWorkflow, inputs: object, run_id: str | None, detach: bool
) -> None:
    """`baton run --backend temporal`: the run id is the workflow id, so Temporal itself
    refuses a second start of it; the workers (`baton worker`) drive the run."""
    if run_id is not None:
        api.check_run_id(run_id)
    run_id = run_id or api.new_run_id(loaded.workflow.name)
    try:
        with Progress(run_id) as progress:
            state, detached = start_and_watch(backend, loaded, inputs, run_id, detach, progress)
    except api.RunExists:
        existing = existing_run(backend, run_id)
        status = existing.status if existing is not None else "unknown"
        click.echo(f"run {run_id} already exists ({status}); not started again")
        if existing is None:
            sys.exit(EXIT_FAILED)
        sys.exit(_exit_code(existing, detached=existing.status == "waiting"))
    except KeyboardInterrupt:
        click.echo(f"interrupted; run {run_id} goes on in Temporal", err=True)
        sys.exit(130)
    if detached:  # its workers go on by themselves once decided: no `baton resume`
        waiting = [
            f"{step} (role '{record.approval.role}')"
            for step, record in state.steps.items()
            if record.approval is not None and record.approval.decision is None
        ]
        click.echo(
            f"run {run_id} is waiting for a decision on {', '.join(waiting)}; decide with "
            f"`baton approve {run_id} STEP --as PRINCIPAL --backend temporal` (or reject)"
        )
        sys.exit(EXIT_WAITING)
    _finish(state, detached=False)


def _observers(progress: Progress, log_json: bool) -> api.OnEvent:
    """Progress output, and the JSON attempt log if asked for; spans are exported when
    a run ends if the OTEL_* variables ask for them (runtime.telemetry)."""
    from baton.runtime import telemetry
    from baton.runtime.attempt_log import AttemptLog, fan_out

    if telemetry.configure_from_env():
        atexit.register(telemetry.shutdown)  # flush the exporter before the process exits
    return fan_out(progress, AttemptLog(sys.stderr) if log_json else None)


def _load_again(spec: str, root: str | None) -> api.LoadedWorkflow:
    """The spec a run started from; a spec that is gone is a refusal, not a usage error."""
    try:
        return load_spec(spec, root)
    except click.UsageError as error:
        raise Refused(f"cannot load the spec this run started from: {error.message}") from None


def _dry_run(loaded: api.LoadedWorkflow, inputs: object) -> None:
    from baton.runtime.driver.dryrun import describe, dry_run

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
