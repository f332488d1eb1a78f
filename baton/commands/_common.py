"""What the run commands share: `--db`, error reporting, exit codes, formatting."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from baton.runtime.api import RunError
from baton.runtime.store import StoreError, db_path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_WAITING = 3

F = TypeVar("F", bound=Callable[..., Any])


class Refused(click.ClickException):
    """A request Baton refuses (bad input, unknown run or step, a principal without the
    role, a database it cannot use): exit 2, the reason on stderr, no traceback."""

    exit_code = EXIT_USAGE

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.message}", err=True)


def db_option(command: F) -> F:
    """`--db PATH` (default: $BATON_DB, else .baton/baton.db)."""
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False),
        default=None,
        help="The run database (default: $BATON_DB, else .baton/baton.db).",
    )(command)


def refusals(command: F) -> F:
    """Turn the runtime's refusals into `Refused` (exit 2) instead of tracebacks."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (RunError, StoreError) as error:
            raise Refused(str(error)) from None

    return wrapper  # type: ignore[return-value]


def database(option: str | None) -> Path:
    return db_path(option)


def parse_input(text: str | None) -> Any:
    """`--input JSON` or `--input @file.json`; None when not given."""
    if text is None:
        return None
    source = "--input"
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text("utf-8")
        except OSError as error:
            raise click.UsageError(f"cannot read input file '{path}': {error.strerror}") from None
        source = str(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise click.UsageError(
            f"{source} is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None


def clock(ms: int | None) -> str:
    """A time of day from epoch milliseconds, local time."""
    if ms is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def duration(ms: int | None) -> str:
    """
    >>> duration(450), duration(12_345), duration(3_723_000)
    ('450 ms', '12.3 s', '1h02m')
    """
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes = ms // 60_000
    if minutes < 60:
        return f"{minutes}m{(ms // 1000) % 60:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def compact(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 3] + "..."
