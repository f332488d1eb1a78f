"""Project settings from `[tool.baton.lint]` in the nearest pyproject.toml."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class LintConfig:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    strict: bool = False
    # the spec root (compiler.files), from `root = "DIR"` relative to the pyproject.toml
    root: str | None = None


# `--root DIR` on the commands that read spec files (lint, compile, run, resume, worker)
ROOT_HELP = (
    "The spec root: every file a spec names must be inside it, and agents resolve from it "
    "(default: [tool.baton.lint] root, else the directory given, a file's own directory)."
)


def root_option(command: F) -> F:
    """`--root DIR`, passed to the command as `root` (None when not given)."""
    return click.option(
        "--root",
        "root",
        type=click.Path(file_okay=False),
        default=None,
        help=ROOT_HELP,
    )(command)


def _find_pyproject(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _strings(value: object, key: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise click.UsageError(f"{path}: [tool.baton.lint] {key} must be a list of rule ids")
    return tuple(value)


def load_lint_config(start: Path | None = None) -> LintConfig:
    """Settings of the project the command runs in; defaults when there are none."""
    path = _find_pyproject((start or Path.cwd()).resolve())
    if path is None:
        return LintConfig()
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise click.UsageError(f"{path}: cannot read settings: {error}") from error
    section = data.get("tool", {}).get("baton", {}).get("lint", {})
    if not isinstance(section, dict):
        raise click.UsageError(f"{path}: [tool.baton.lint] must be a table")
    unknown = sorted(set(section) - {"select", "ignore", "strict", "root"})
    if unknown:
        raise click.UsageError(
            f"{path}: unknown key '{unknown[0]}' in [tool.baton.lint]; "
            "expected 'ignore', 'root', 'select', 'strict'"
        )
    strict = section.get("strict", False)
    if not isinstance(strict, bool):
        raise click.UsageError(f"{path}: [tool.baton.lint] strict must be true or false")
    return LintConfig(
        select=_strings(section.get("select", []), "select", path),
        ignore=_strings(section.get("ignore", []), "ignore", path),
        strict=strict,
        root=_root(section.get("root"), path),
    )


def _root(value: object, path: Path) -> str | None:
    """`root = "specs"`: relative to the pyproject.toml's directory; shown relative to the
    working directory when it is below it."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise click.UsageError(f"{path}: [tool.baton.lint] root must be a directory path")
    absolute = os.path.normpath(path.parent / value)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith("..") else relative
