"""`baton lint [PATHS]`: findings with exact positions, for people and for CI."""

from __future__ import annotations

import sys
import traceback

import click

from baton.compiler.formats import FORMATS, render
from baton.compiler.pipeline import LintOptions, UsageError, lint
from baton.config import load_lint_config, root_option


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _rule_list(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip().upper() for part in (value or "").split(",") if part.strip())


def _known_rules(rules: tuple[str, ...], where: str) -> tuple[str, ...]:
    """Rule ids or prefixes, upper-cased; a typo would silently select nothing."""
    from baton.compiler.rules.registry import RULES

    ids = [rule.id for rule in RULES]
    for rule in (r.upper() for r in rules):
        if not any(rule_id.startswith(rule) for rule_id in ids):
            raise click.UsageError(
                f"unknown rule '{rule}' in {where}; rules are {', '.join(ids)} "
                "(or a prefix such as B1)"
            )
    return tuple(r.upper() for r in rules)


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--strict", is_flag=True, default=None, help="Warnings fail too (exit 1).")
@click.option("--select", help="Only these rules (comma-separated ids or prefixes, e.g. B1,B304).")
@click.option("--ignore", help="Skip these rules (comma-separated ids or prefixes).")
@click.option(
    "--probe-tools",
    is_flag=True,
    help="Start the roster's MCP servers to check `only:` names (B703); runs their code.",
)
@root_option
def lint_command(
    paths: tuple[str, ...],
    fmt: str,
    strict: bool | None,
    select: str | None,
    ignore: str | None,
    probe_tools: bool,
    root: str | None,
) -> None:
    """Lint spec files and directories (default: specs/).

    Exit 0 when there is no error (warnings allowed unless --strict), 1 when there is,
    2 for a usage error.
    """
    config = load_lint_config()
    options = LintOptions(
        select=_known_rules(_rule_list(select), "--select")
        or _known_rules(config.select, "[tool.baton.lint] select"),
        ignore=_known_rules(_rule_list(ignore), "--ignore")
        + _known_rules(config.ignore, "[tool.baton.lint] ignore"),
        root=root if root is not None else config.root,
        probe_tools=probe_tools,
    )
    try:
        result = lint(list(paths) or ["specs"], options)
        output = render(result.diagnostics, fmt, result.sources)
    except UsageError as error:
        raise click.UsageError(str(error)) from error
    except Exception as error:
        # a bug in baton, not in the specs: say so, keep the traceback for the report,
        # and exit 2 so CI does not mistake it for findings (exit 1)
        click.echo(f"baton: internal error: {type(error).__name__}: {error}", err=True)
        click.echo("please report this with the traceback below", err=True)
        click.echo(traceback.format_exc(), err=True, nl=False)
        sys.exit(2)
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
