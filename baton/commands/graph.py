"""`baton graph SPEC`: the step DAG with agents, approvals and effects."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from baton.compiler.graphview import GRAPH_FORMATS, render_graph
from baton.compiler.pipeline import UsageError, load_spec_set


@click.command("graph")
@click.argument("spec", type=click.Path())
@click.option(
    "--format", "fmt", type=click.Choice(GRAPH_FORMATS), default="mermaid", show_default=True
)
@click.option("--workflow", "name", help="The workflow to draw, when SPEC holds several.")
def graph_command(spec: str, fmt: str, name: str | None) -> None:
    """Print the step graph of the workflow in SPEC (a file, or a directory: its one
    workflow, or the one --workflow names)."""
    try:
        loaded = load_spec_set([spec])
    except UsageError as error:
        raise click.UsageError(str(error)) from error
    workflows = loaded.spec.workflows
    if name is None:
        # a file's own workflow (it brings its directory along); a directory's, those in it
        given = Path(spec).resolve()
        held = [
            workflows[each]
            for each in sorted(workflows)
            if Path(workflows[each].path).resolve() == given
            or (given.is_dir() and Path(workflows[each].path).resolve().is_relative_to(given))
        ]
        if len(held) != 1:
            raise click.UsageError(
                f"'{spec}' holds {len(held)} workflows; name one with --workflow "
                f"({', '.join(sorted(workflows)) or 'none found'})"
            )
        workflow = held[0]
    elif name in workflows:
        workflow = workflows[name]
    else:
        raise click.UsageError(
            f"unknown workflow '{name}'; workflows are {', '.join(sorted(workflows))}"
        )
    sys.stdout.write(render_graph(workflow, fmt))
