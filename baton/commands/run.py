"""`baton run SPEC`, `baton resume RUN`, `baton retry RUN`: start a run, continue one,
or take a failed one up again (redrive), and follow it.

Exit codes: 0 the run succeeded, 1 it failed (or was cancelled, or the spec has lint
errors), 2 a usage error or a refusal, 3 it waits for an approval (with `--detach`).
"""

from __future__ import annotations

import difflib
import math
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
    os_user,
    parse_input,
    refusals,
)
from baton.commands._load import load_spec
from baton.commands._progress import Progress
from baton.config import root_option
from baton.runtime import api
from baton.runtime.backend import Backend, Follow, LocalBackend
from baton.runtime.core.budget import MEASURES, RAISE_BUDGET, encode_limits


@click.command("run")
@click.argument("spec")
@click.option("--input", "input_text", help="The run input: JSON, or @file.json.")
@click.option("--run-id", help="Name the run; an existing id is not started again.")
@click.option("--dry-run", is_flag=True, help="Print the plan; call no agent, write nothing.")
@click.option(
    "--detach",
    is_flag=True,
    help="Exit 3 instead of waiting for an approval; with a worker pool running, only enqueue.",
)
@click.option(
    "--queue", is_flag=True, help="Only record the run: a `baton worker --local` drives it."
)
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
    queue: bool,
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
    if queue or (detach and _pool_running(backend)):
        _enqueue(backend, loaded, inputs, run_id)
    try:
        with Progress(run_id, live=False if log_json else None) as progress:
            follow = Follow(detach, api.observers(progress, sys.stderr if log_json else None))
            result = backend.start(loaded, inputs, run_id, follow)
    except api.RunExists:  # started by another process just now
        _not_again(run_id, backend.existing(run_id))
    except KeyboardInterrupt:
        _interrupted(backend, run_id)
    _finish(backend, result)


def _pool_running(backend: Backend) -> bool:
    from baton.runtime.pool import pool_running

    return isinstance(backend, LocalBackend) and pool_running(backend.db)


def _enqueue(backend: Backend, loaded: api.LoadedWorkflow, inputs: object, run_id: str) -> NoReturn:
    """Record the run for the local worker pool, and exit 0 (runtime.pool)."""
    from baton.runtime.pool import enqueue, pool_running

    if not isinstance(backend, LocalBackend):
        raise click.UsageError("--queue needs the local backend (Temporal queues by itself)")
    try:
        enqueue(backend.db, loaded, inputs, run_id)
    except api.RunExists:
        _not_again(run_id, backend.existing(run_id))
    then = "" if pool_running(backend.db) else "; start one with `baton worker --local`"
    click.echo(f"run {run_id} queued for the worker pool{then}")
    sys.exit(EXIT_OK)


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
@click.option(
    "--raise-budget",
    "raises",
    multiple=True,
    metavar="MEASURE=N",
    help="Raise the run's budget (or --agent's) first: usd=N or tokens=N; repeatable.",
)
@click.option("--agent", help="With --raise-budget: raise this agent's share, not the run's.")
@click.option("--as", "principal", help="Who raises the budget (default: the OS user).")
@root_option
@backend_options
@refusals
def resume_command(
    run_id: str,
    allow_spec_change: bool,
    detach: bool,
    log_json: bool,
    raises: tuple[str, ...],
    agent: str | None,
    principal: str | None,
    root: str | None,
    backend: Backend,
) -> None:
    """Continue RUN from where its log ends; committed steps never run again.

    With --raise-budget, first record the new limits of the budget the run waits on
    (`budget_raised`: who, when, the limits); a limit must be above what was spent."""
    _terminate_gracefully()
    if agent is not None and not raises:
        raise click.UsageError("--agent goes with --raise-budget")
    if raises:
        limits = parse_limits(raises)
        by = principal or os_user()
        outcome = backend.decide(RAISE_BUDGET, run_id, agent, by, encode_limits(limits))
        whose = f"agent {agent}'s" if agent else "the run's"
        new = ", ".join(f"{measure}={value:g}" for measure, value in sorted(limits.items()))
        click.echo(
            f"{run_id}: {whose} budget raised to {new} by {by}"
            if outcome == "applied"
            else f"{run_id}: {outcome}"
        )

    def load_again(spec: str) -> api.LoadedWorkflow:
        return _load_again(spec, root)

    try:
        with Progress(run_id, live=False if log_json else None) as progress:
            follow = Follow(detach, api.observers(progress, sys.stderr if log_json else None))
            result = backend.resume(run_id, load_again, allow_spec_change, follow)
    except api.RunBusy:
        if not raises:
            raise
        # the process that drives the run took the raise, and goes on with it
        click.echo(f"{run_id}: the process driving the run continues it")
        sys.exit(EXIT_OK)
    except KeyboardInterrupt:
        _interrupted(backend, run_id)
    _finish(backend, result)


@click.command("retry")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--step",
    "steps",
    multiple=True,
    metavar="STEP",
    help="Redrive this failed (or cancelled) step; repeatable (default: every failed step).",
)
@click.option(
    "--allow-spec-change",
    is_flag=True,
    help="Continue on a changed spec if every step keeps its needs and output handoff.",
)
@click.option("--as", "principal", metavar="P", help="Who redrives the run (default: the OS user).")
@click.option("--detach", is_flag=True, help="Exit 3 instead of waiting for an approval.")
@click.option("--log-json", is_flag=True, help="A JSON log line per finished attempt (stderr).")
@cassette_options
@root_option
@backend_options
@refusals
def retry_command(
    run_id: str,
    steps: tuple[str, ...],
    allow_spec_change: bool,
    principal: str | None,
    detach: bool,
    log_json: bool,
    root: str | None,
    backend: Backend,
) -> None:
    """Redrive a failed RUN: its failed steps (or each --step), and the steps skipped or
    cancelled because of them, go back to pending with fresh attempt budgets; committed
    steps never run again. Recorded as `run_redriven` (who, when, which steps); the run
    then goes on as `baton resume` drives it."""
    _terminate_gracefully()
    by = principal or os_user()

    def load_again(spec: str) -> api.LoadedWorkflow:
        return _load_again(spec, root)

    try:
        with Progress(run_id, live=False if log_json else None) as progress:
            follow = Follow(detach, api.observers(progress, sys.stderr if log_json else None))
            result = backend.redrive(run_id, load_again, steps, by, allow_spec_change, follow)
    except KeyboardInterrupt:
        _interrupted(backend, run_id)
    _finish(backend, result)


def parse_limits(raises: tuple[str, ...]) -> dict[str, float]:
    """`usd=10`, `tokens=500000` -> {"usd": 10.0, "tokens": 500000.0}; UsageError else."""
    limits: dict[str, float] = {}
    for text in raises:
        measure, sep, value = text.partition("=")
        measure = measure.strip()
        if not sep or measure not in MEASURES:
            raise click.UsageError(
                f"--raise-budget takes usd=N or tokens=N, not '{text}'" + _did_you_mean(measure)
            )
        try:
            number = float(value)
        except ValueError:
            raise click.UsageError(f"--raise-budget {measure}: '{value}' is not a number") from None
        if not math.isfinite(number) or number <= 0:
            raise click.UsageError(f"--raise-budget {measure}: give a positive number")
        if measure == "tokens" and not number.is_integer():
            raise click.UsageError("--raise-budget tokens: give a whole number of tokens")
        if measure in limits:
            raise click.UsageError(f"--raise-budget {measure} given twice")
        limits[measure] = number
    return limits


def _did_you_mean(measure: str) -> str:
    close = difflib.get_close_matches(measure, MEASURES, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


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
        if state.budget_wait is not None and not waiting:
            click.echo(_budget_waiting(state, backend))
            sys.exit(_exit_code(state, result.detached))
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


def _budget_waiting(state: api.RunState, backend: Backend) -> str:
    """How to go on with a run its budget stopped."""
    wait = state.budget_wait or {}
    agent = wait.get("agent")
    measure = str(wait.get("measure", "usd"))
    whose = f"agent {agent}'s" if agent else "the run's"
    flag = f" --agent {agent}" if agent else ""
    backend_flag = f" --backend {backend.name}" if backend.drives_itself else ""
    return (
        f"run {state.run_id} is waiting: {whose} {measure} budget is spent "
        f"({wait.get('spent')} of {wait.get('limit')}) before step {wait.get('step')}; "
        f"raise it with `baton resume {state.run_id} --raise-budget {measure}=N{flag}"
        f"{backend_flag}`"
    )


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
