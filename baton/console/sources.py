"""Where the console reads runs and sends decisions: `ConsoleSource`, with the local
SQLite database (`LocalSource`) and a Temporal cluster (`console.temporal_source`)
behind it, so the pages, the API and `baton approvals` are the same code on both.

A source reads (summaries, state, events, timeline) and decides; what happens after a
decision differs: locally `baton serve` is also the run's driver and continues it
(console.driving), on Temporal the workers drive every run and serve only sends the
decision. Principals (tokens) are not a source's: they stay in the local database on
either backend (the console's identity, console.auth).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from baton.runtime import api
from baton.runtime.core.state import RunState
from baton.runtime.model import JSON

if TYPE_CHECKING:
    from baton.console.driving import Continuer


class ConsoleSource(Protocol):
    """What the console reads and decides, on one backend. Reads raise api.UnknownRun
    for an unknown run and api.StoreError / api.RunError when the store or cluster
    cannot be read; `decide` raises api.RunError with the refusal."""

    @property
    def name(self) -> str:
        """`local` or `temporal`."""
        ...

    def summaries(self) -> list[api.RunSummary]:
        """Every run, newest first."""
        ...

    def state(self, run_id: str) -> RunState: ...

    def events(self, run_id: str) -> list[dict[str, JSON]]:
        """The run's log as `baton events --json` prints it."""
        ...

    def timeline(self, run_id: str) -> api.Timeline: ...

    def decide(
        self,
        kind: str,
        run_id: str,
        step: str,
        principal: str,
        comment: str,
        channel: str,
        shown_sha256: str | None,
    ) -> str:
        """Record an approval or a rejection ("applied"), then see that the run goes on."""
        ...

    def problem(self, run_id: str) -> str | None:
        """Why this console could not continue the run, if it tried and could not."""
        ...


def runs_version(summaries: Sequence[api.RunSummary]) -> str:
    """A short hash that changes when any run moves (the pages poll it)."""
    rows = [(s.run_id, s.status, s.updated_ms) for s in summaries]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


class LocalSource:
    """The runs of the SQLite database at `db`; with a `continuer` (`baton serve`), a
    decided run is continued here, as `baton resume` would."""

    def __init__(self, db: Path, continuer: Continuer | None = None) -> None:
        from baton.runtime.backend import LocalBackend

        self.db = db
        self.backend = LocalBackend(db)
        self.continuer = continuer

    @property
    def name(self) -> str:
        return "local"

    def summaries(self) -> list[api.RunSummary]:
        return api.list_runs(self.db)

    def state(self, run_id: str) -> RunState:
        return self.backend.state(run_id)

    def events(self, run_id: str) -> list[dict[str, JSON]]:
        return self.backend.events(run_id)

    def timeline(self, run_id: str) -> api.Timeline:
        return self.backend.timeline(run_id)

    def decide(
        self,
        kind: str,
        run_id: str,
        step: str,
        principal: str,
        comment: str,
        channel: str,
        shown_sha256: str | None,
    ) -> str:
        outcome = self.backend.decide(
            kind, run_id, step, principal, comment, channel, shown_sha256=shown_sha256
        )
        if self.continuer is not None:
            from baton.console.driving import root_run

            # a child run: its top run drives it
            self.continuer.kick(root_run(self.db, self.state(run_id)))
        return outcome

    def problem(self, run_id: str) -> str | None:
        return self.continuer.problems.get(run_id) if self.continuer is not None else None
