"""Project settings from `[tool.baton.lint]` in the nearest pyproject.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import click


@dataclass(frozen=True)
class LintConfig:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    strict: bool = False


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
    unknown = sorted(set(section) - {"select", "ignore", "strict"})
    if unknown:
        raise click.UsageError(
            f"{path}: unknown key '{unknown[0]}' in [tool.baton.lint]; "
            "expected 'ignore', 'select', 'strict'"
        )
    strict = section.get("strict", False)
    if not isinstance(strict, bool):
        raise click.UsageError(f"{path}: [tool.baton.lint] strict must be true or false")
    return LintConfig(
        select=_strings(section.get("select", []), "select", path),
        ignore=_strings(section.get("ignore", []), "ignore", path),
        strict=strict,
    )
