"""How `baton serve` and `baton approvals` find a run's workflow again: the spec the run
recorded (as `baton resume` does), else a spec file of the same name among the SPECS
given on the command line (a run recorded in another checkout)."""

from __future__ import annotations

from pathlib import Path

import click

from baton.console.views import LoadFailed, LoadWorkflow
from baton.runtime import api


def spec_loader(root: str | None, specs: tuple[str, ...] = ()) -> LoadWorkflow:
    """A loader: spec -> LoadedWorkflow, LoadFailed (with the reason) when it cannot."""
    from baton.commands._load import load_spec

    candidates = _spec_files(specs)

    def load(spec: str) -> api.LoadedWorkflow:
        chosen = spec
        if not Path(spec).is_file() and ":" not in spec and not spec.isidentifier():
            same_name = [path for path in candidates if path.name == Path(spec).name]
            if same_name:
                chosen = str(same_name[0])
        try:
            return load_spec(chosen, root)
        except click.ClickException as error:
            raise LoadFailed(
                f"cannot load the spec this run started from: {error.message}"
            ) from None

    return load


def _spec_files(specs: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for given in specs:
        path = Path(given)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.y*ml") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise click.UsageError(f"'{given}' is neither a spec file nor a directory")
    return files
