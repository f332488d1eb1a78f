"""`baton runs`, `baton status RUN`, `baton show RUN`, `baton events RUN`: read-only views
of the runs (they never create a database, and open one read-only)."""

from __future__ import annotations

import json

import click

from baton.commands._backend import backend_options, local_backend
from baton.commands._common import clock, compact, db_option, duration, refusals
from baton.runtime import api
from baton.runtime.backend import Backend
from baton.runtime.core.budget import describe_scope, spend_of
from baton.runtime.core.map_state import map_summary
from baton.runtime.core.route import describe as describe_route


@click.command("runs")
@db_option
@refusals
def runs_command(db: str | None) -> None:
    """List runs, newest first: status, steps, duration, tokens and cost."""
    summaries = local_backend(db).runs()
    if not summaries:
        click.echo("no runs")
        return
    rows = [("RUN", "WORKFLOW", "STATUS", "STEPS", "DURATION", "TOKENS", "COST", "STARTED")]
    for run in summaries:
        totals = run.totals
        steps = totals.get("steps", {})
        tokens = int(totals.get("tokens_in", 0)) + int(totals.get("tokens_out", 0))
        cap = run.budgets.get("run") or {}
        status = run.status
        if status == "waiting" and "budget" in run.waiting_on:
            status = f"waiting on {'+'.join(run.waiting_on)}"
        rows.append(
            (
                run.run_id,
                f"{run.workflow} v{run.version}",
                status,
                f"{steps.get('committed', 0)}/{sum(steps.values())}",
                duration(totals.get("duration_ms")),
                str(tokens) + (f"/{cap['tokens']}" if cap.get("tokens") is not None else ""),
                f"${float(totals.get('cost_usd', 0.0)):.4f}"
                + (f"/${float(cap['usd']):g}" if cap.get("usd") is not None else ""),
                clock(run.created_ms),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


@click.command("status")
@click.argument("run_id", metavar="RUN")
@backend_options
@refusals
def status_command(run_id: str, backend: Backend) -> None:
    """The run's status and each step's state."""
    state = backend.state(run_id)
    click.echo(_headline(state))
    for step in state.plan:
        record = state.steps[step]
        detail = ""
        if record.approval is not None and record.approval.decision is None:
            detail = f" (needs role '{record.approval.role}')"
            called = (record.approval.tool or {}).get("subject")
            if isinstance(called, dict):  # a model's tool call (core.tool_approvals)
                detail = f" (tool call {called.get('name')} needs role '{record.approval.role}')"
        elif record.error:
            detail = f" ({record.error.get('failure')}: {record.error.get('message')})"
        elif record.skip_reason:
            detail = f" ({record.skip_reason})"
        click.echo(f"  {step}: {record.state.value}{detail}")
    if state.budget_wait is not None:
        click.echo(f"  budget: {_budget_wait(state)}")
    if backend.idle(state):
        click.echo(
            f"idle: no process is driving this run; continue it with `baton resume {run_id}`"
        )


@click.command("show")
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="The materialized state (state.json).")
@backend_options
@refusals
def show_command(run_id: str, as_json: bool, backend: Backend) -> None:
    """The run's materialized state: steps, outputs, checksums, usage, totals."""
    state = backend.state(run_id)
    if as_json:
        click.echo(json.dumps(state.to_json(), indent=2, ensure_ascii=False))
        return
    click.echo(_headline(state))
    tampered = {m.step: m for m in api.step_mismatches(state)}
    click.echo(f"  spec: {state.spec} (sha256 {state.spec_sha256[:16]}...)")
    click.echo(f"  inputs: {compact(state.inputs)}")
    for step in state.plan:
        record = state.steps[step]
        click.echo(f"  {step}: {record.state.value}, {record.attempts} attempt(s)")
        if record.map is not None:  # a map step: its items (runtime.core.mapping)
            click.echo(f"    {map_summary(record.map)}")
        if record.checksum and record.output is not None:
            click.echo(f"    output: {compact(record.output)}")
            click.echo(f"    checksum: {record.checksum}")
        if step in tampered:
            click.echo(f"    CHECKSUM MISMATCH: {tampered[step].message}")
        if record.untrusted_sources:
            click.echo(f"    untrusted: its input received {', '.join(record.untrusted_sources)}")
        if record.quality_score is not None:
            click.echo(f"    quality score: {record.quality_score:.2f}")
        if record.review is not None:  # a review loop (runtime.core.review)
            click.echo(f"    {_review_line(record.review)}")
        if record.approval is not None and record.approval.decision is not None:
            approval = record.approval
            comment = f" ({approval.comment})" if approval.comment else ""
            click.echo(
                f"    {approval.decision} by {approval.principal} as {approval.role} "
                f"via {approval.channel or '-'} at {clock(approval.decided_ms)}{comment}"
            )
        if record.error:
            click.echo(f"    error: {record.error.get('failure')}: {record.error.get('message')}")
        if record.skip_reason:
            click.echo(f"    skipped: {record.skip_reason}")
        if record.route is not None:  # a routed step's choice (runtime.core.route)
            choice = record.route
            case = int(choice.get("case") or 0)
            kind, target = str(choice.get("kind", "")), str(choice.get("target", ""))
            click.echo(f"    route: {describe_route(case, kind, target)}")
        if record.child_run_id:
            click.echo(f"    child run: {record.child_run_id}")
        if record.agent is not None or record.usage.tokens_in or record.usage.cost_usd:
            usage = record.usage
            by = f" by {record.agent}" if record.agent else ""
            click.echo(
                f"    spent{by}: {usage.tokens_in}+{usage.tokens_out} tokens, ${usage.cost_usd:.4f}"
            )
    if state.outcome == "succeeded":
        click.echo(f"  result: {compact(state.result, 400)}")
    totals = state.totals()
    click.echo(
        f"  totals: {totals['attempts']} attempts, {totals['tokens_in']}+{totals['tokens_out']} "
        f"tokens, ${totals['cost_usd']:.4f}, {duration(totals['duration_ms'])}"
    )
    for agent, usage in sorted(state.agent_usage.items()):
        click.echo(
            f"  agent {agent}: {usage.tokens_in}+{usage.tokens_out} tokens, ${usage.cost_usd:.4f}"
        )
    for scope, cap in sorted(state.budgets.items()):
        spend = spend_of(state, scope)
        limits = [
            f"${spend.usd:.4f} of ${float(cap['usd']):g}" if cap.get("usd") is not None else "",
            f"{spend.tokens} of {cap['tokens']} tokens" if cap.get("tokens") is not None else "",
        ]
        shown = ", ".join(limit for limit in limits if limit) or "no limits"
        click.echo(f"  budget of {describe_scope(scope)} ({cap.get('mode')}): {shown}")
    if state.budget_wait is not None:
        click.echo(f"  waiting on budget: {_budget_wait(state)}")


@click.command("events")
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of the events.")
@backend_options
@refusals
def events_command(run_id: str, as_json: bool, backend: Backend) -> None:
    """The run's event log, in order."""
    events = backend.events(run_id)
    if as_json:
        click.echo(json.dumps(events, indent=2, ensure_ascii=False))
        return
    for event in events:
        where = event["step"] or "-"
        if event["attempt"] is not None:
            where += f"#{event['attempt']}"
        # empty values left out; a 0 is shown (an item's `index`), a false is not
        data = {
            k: v for k, v in event["data"].items() if v is not False and v not in (None, "", [], {})
        }
        trace = data.pop("traceback", None)  # an agent's own: in full, below its event
        if "channel" in data:  # how a decision came (cli, web, api): first, so it shows
            data = {"channel": data.pop("channel"), **data}
        click.echo(
            f"{event['seq']:>4}  {clock(event['ts'])}  {event['type']:<20} {where:<20} "
            f"{compact(data, 100)}"
        )
        if isinstance(trace, str):
            for line in trace.rstrip("\n").splitlines():
                click.echo(f"      | {line}")


def _budget_wait(state: api.RunState) -> str:
    wait = state.budget_wait or {}
    agent = wait.get("agent")
    measure = wait.get("measure")
    flag = f" --agent {agent}" if agent else ""
    whose = f"agent {agent}'s" if agent else "the run's"
    return (
        f"{whose} {measure} budget reached ({wait.get('spent')} of {wait.get('limit')}) "
        f"before step {wait.get('step')}; raise it with "
        f"`baton resume {state.run_id} --raise-budget {measure}=N{flag}`"
    )


def _headline(state: api.RunState) -> str:
    status = state.status
    if "budget" in state.waiting_on:  # an approval is what a run waits for unless said
        status = f"waiting on {' and '.join(state.waiting_on)}"
    line = f"run {state.run_id}: {state.workflow} v{state.version}, {status}"
    error = (state.error or {}).get("message")
    return line + (f": {error}" if error else "")


def _review_line(loop: dict[str, object]) -> str:
    """A step's review loop for `baton show`: round, status, score, last verdict."""
    status = str(loop.get("status") or "in progress")
    if status == "exhausted":
        status = f"exhausted ({loop.get('on_exhausted')})"
    score = f", score {loop['score']}" if loop.get("score") is not None else ""
    verdict = f"; verdict {compact(loop['verdict'])}" if loop.get("verdict") is not None else ""
    return f"review: round {loop.get('round')}, {status}{score}{verdict}"
