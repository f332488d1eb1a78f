"""`baton approvals`: every gate waiting for a decision, across the database's runs, with
exactly what is decided (the view model the console shows, baton/console/views.py).

Stage `before`: the input the step's agent will get, rendered now as the driver will
render it; stage `after`: the step's validated output; stage `tool`: the tool call a
model agent asks for (tool, name, arguments, step, attempt, key). Values are cut for the terminal
unless `--full`; `--json` is never cut and carries `shown_sha256`, the sha256 of the
canonical JSON of the value shown. `--backend temporal`: the gates of the runs on a
Temporal task queue (console.temporal_source), read the same way.
"""

from __future__ import annotations

import json

import click

from baton.commands._backend import backend_options
from baton.commands._common import clock, compact, refusals
from baton.config import root_option
from baton.runtime.backend import Backend, LocalBackend

CUT = 400  # characters of a value shown without --full


@click.command("approvals")
@click.option("--full", is_flag=True, help="Show each input or output whole.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array (never cut).")
@root_option
@backend_options
@refusals
def approvals_command(full: bool, as_json: bool, root: str | None, backend: Backend) -> None:
    """Approvals waiting, oldest first: run, step, role, and the exact input (stage
    before) or output (stage after) being decided."""
    from baton.console.loading import spec_loader
    from baton.console.sources import LocalSource
    from baton.console.views import Workflows, pending_approvals

    workflows = Workflows(spec_loader(root))
    if isinstance(backend, LocalBackend):
        pending = pending_approvals(LocalSource(backend.db), workflows)
    else:
        from baton.console.temporal_source import TemporalSource
        from baton.runtime.backend import TemporalBackend

        assert isinstance(backend, TemporalBackend)
        source = TemporalSource(backend.target())
        try:
            pending = pending_approvals(source, workflows)
        finally:
            source.close()
    if as_json:
        click.echo(json.dumps([p.to_json() for p in pending], indent=2, ensure_ascii=False))
        return
    if not pending:
        click.echo("no approvals waiting")
        return
    for p in pending:
        holders = ", ".join(p.principals) or "nobody holds it"
        click.echo(
            f"{p.run_id}  step {p.step}  role {p.role} ({holders})  stage {p.stage}  "
            f"requested {clock(p.requested_ms)}"
        )
        if p.spec_changed:
            click.echo("  warning: the spec changed since this run started")
        if p.subject.problem:
            click.echo(f"  {p.subject.kind}: {p.subject.problem}")
            continue
        label = {
            "input": "input its agent will get",
            "tool_call": "tool call its agent asks for",
        }.get(p.subject.kind, "output to commit")
        if full:
            text = json.dumps(p.subject.value, indent=2, ensure_ascii=False)
            click.echo(f"  {label}:")
            for line in text.splitlines():
                click.echo(f"    {line}")
        else:
            click.echo(f"  {label}: {compact(p.subject.value, CUT)}")
        if p.subject.prompt is not None:
            prompt = str(p.subject.prompt)
            click.echo(f"  prompt its agent will get: {prompt if full else compact(prompt, CUT)}")
        for r in p.reviews:
            verdict = json.dumps(r["verdict"], ensure_ascii=False)
            click.echo(
                f"  review round {r['round']} by {r['reviewer'] or '?'}: {r['outcome']}: "
                f"{verdict if full else compact(r['verdict'], CUT)}"
            )
        click.echo(f"  sha256: {p.subject.sha256}")
        click.echo(f"  decide: baton approve {p.run_id} {p.step} --as PRINCIPAL (or reject)")
