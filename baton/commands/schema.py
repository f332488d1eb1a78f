"""`baton schema spec` (the spec format's JSON Schema) and `baton schema diff`."""

from __future__ import annotations

import json

import click


@click.group("schema")
def schema_group() -> None:
    """JSON Schemas: the spec format, and compatibility between handoff versions."""


@schema_group.command("spec")
def spec_command() -> None:
    """Print the JSON Schema (2020-12) of the spec format, for editors and CI."""
    from baton.compiler.structure import spec_format_schema

    click.echo(json.dumps(spec_format_schema(), indent=2))


def _attach_diff() -> None:
    try:
        from baton.commands.schema_diff import diff_command
    except ImportError:  # pragma: no cover - only while the checker is being built
        return
    schema_group.add_command(diff_command, "diff")


_attach_diff()
