"""What the run commands share: `--db`, error reporting, exit codes, formatting."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from baton.runtime.api import RunError, StoreError, db_path, lone_surrogate

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
    """`--input JSON` or `--input @file.json`; None when not given.

    The text must be UTF-8 and the value Unicode: an undecodable byte (in the file, or in
    the argument, where Python keeps it as a lone surrogate) or a `\\udXXX` escape of a
    lone surrogate is refused here, naming where it is, before anything is written.
    """
    if text is None:
        return None
    source = "--input"
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            data = path.read_bytes()
        except OSError as error:
            raise Refused(f"cannot read input file '{path}': {error.strerror}") from None
        source = f"input file '{path}'"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise Refused(
                f"{source} is not UTF-8: byte 0x{data[error.start]:02x} at offset "
                f"{error.start} (line {line}) cannot be decoded"
            ) from None
    else:
        undecodable = lone_surrogate(text)
        if undecodable is not None:  # a byte that was not UTF-8, as the OS gave it to us
            index = text.index(undecodable[1])
            raise Refused(
                f"--input is not UTF-8: {_byte_of(undecodable[1])} at character {index + 1} "
                "cannot be decoded"
            )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise Refused(
            f"{source} is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise Refused(f"{source} is nested too deeply to read") from None
    found = lone_surrogate(value)
    if found is not None:
        pointer, character = found
        raise Refused(
            f"{source} is not valid Unicode: the string at {pointer or '(root)'} holds the "
            f"lone surrogate \\u{ord(character):04x} (half of a UTF-16 pair, not a character)"
        )
    return value


def _byte_of(character: str) -> str:
    """How an undecodable byte reads: Python's surrogateescape keeps byte 0xNN of a
    command-line argument as the character U+DCNN."""
    code = ord(character)
    if 0xDC80 <= code <= 0xDCFF:
        return f"byte 0x{code - 0xDC00:02x}"
    return f"the lone surrogate \\u{code:04x}"


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


def cassette_options(command: F) -> F:
    """`--cassette DIR --cassette-mode record|replay`: every model call of this process
    (llm agents, runtime.llm.cassette) is recorded in DIR, or replayed from it with no
    network call. Set once for the process, before any attempt runs."""

    @functools.wraps(command)
    def wrapper(*args: Any, cassette: str | None, cassette_mode: str | None, **kwargs: Any) -> Any:
        if cassette_mode is not None and cassette is None:
            raise click.UsageError("--cassette-mode needs --cassette DIR")
        if cassette is not None:
            from baton.runtime.agents.llm_agent import use_cassette
            from baton.runtime.llm import Cassette, CassetteMode

            use_cassette(Cassette(Path(cassette), CassetteMode(cassette_mode or "replay")))
        return command(*args, **kwargs)

    wrapper = click.option(
        "--cassette-mode",
        type=click.Choice(["record", "replay"]),
        default=None,
        help="record: call the models and write each answer to the cassette; replay "
        "(the default): answer from it, with no network call and no key.",
    )(wrapper)
    with_cassette: Any = click.option(
        "--cassette",
        type=click.Path(file_okay=False),
        default=None,
        help="A cassette directory for the model calls of llm agents (plain JSON files).",
    )(wrapper)
    chosen: F = with_cassette
    return chosen


def os_user() -> str:
    """The OS user's login name ("" where there is none, as in some containers)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
