"""`baton lint [PATHS]`: findings with exact positions, for people and for CI."""

from __future__ import annotations

import gc
import sys

import click

from baton.config import load_lint_config
from compiler.formats import FORMATS, render
from compiler.pipeline import LintOptions, UsageError, lint


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _rule_list(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip().upper() for part in (value or "").split(",") if part.strip())


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--strict", is_flag=True, default=None, help="Warnings fail too (exit 1).")
@click.option("--select", help="Only these rules (comma-separated ids or prefixes, e.g. B1,B304).")
@click.option("--ignore", help="Skip these rules (comma-separated ids or prefixes).")
def lint_command(
    paths: tuple[str, ...], fmt: str, strict: bool | None, select: str | None, ignore: str | None
) -> None:
    """Lint spec files and directories (default: specs/).

    Exit 0 when there is no error (warnings allowed unless --strict), 1 when there is,
    2 for a usage error.
    """
    # a short-lived process: the cyclic GC only costs time here (superlinear on 10k steps)
    gc.disable()
    config = load_lint_config()
    options = LintOptions(
        select=_rule_list(select) or config.select,
        ignore=_rule_list(ignore) + config.ignore,
    )
    try:
        result = lint(list(paths) or ["specs"], options)
    except UsageError as error:
        raise click.UsageError(str(error)) from error
    output = render(result.diagnostics, fmt, result.sources)
    sys.stdout.write(output)
    errors = sum(1 for d in result.diagnostics if d.severity.value == "error")
    warnings = len(result.diagnostics) - errors
    if fmt == "text":
        files = len(result.reported)
        click.echo(
            f"{_count(files, 'file')} checked: {_count(errors, 'error')}, "
            f"{_count(warnings, 'warning')}",
            err=True,
        )
    failing = errors or ((strict if strict is not None else config.strict) and warnings)
    sys.exit(1 if failing else 0)
