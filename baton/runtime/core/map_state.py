"""What a map step's record keeps of its items (runtime.core.mapping). Plain values.

A map step's `StepRecord.map`: the items (resolved once, when the step started), how
many were started, the items in motion and the slots of the finished ones. Only the
items in motion have a record of their own, so an event touches at most
`max_concurrency` item records; the finished ones are a slot each in `results`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from baton.runtime.model import JSON


@dataclass(frozen=True)
class ItemRecord:
    """One item in motion: its attempt running, or failed and waiting for a retry."""

    attempts: int = 0
    attempt_open: bool = False
    started_ms: int | None = None
    # the run's `resumes` when its open attempt started: fewer than the run's now means
    # the process that ran it is gone (the attempt is interrupted and runs again)
    epoch: int = 0
    restarts: int = 0
    error: dict[str, JSON] | None = None  # the failed attempt's, until retried or dropped
    retry_due_ms: int | None = None

    def to_json(self) -> dict[str, JSON]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class MapRecord:
    """A map step's items. Items start in order: those below `started` that are not in
    `active` are finished, their output (or None: dropped) in `results`."""

    items: tuple[JSON, ...]
    started: int = 0
    active: dict[int, ItemRecord] = dataclasses.field(default_factory=dict)
    results: tuple[JSON, ...] = ()
    succeeded: int = 0
    dropped: tuple[int, ...] = ()  # items that failed for good (tolerated): null slots
    item_attempts: int = 0  # attempts of all items
    # the untrusted values the items' inputs received (taint): the step's, once validated
    untrusted_sources: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def settled(self) -> bool:
        """Every item finished: succeeded or dropped."""
        return self.succeeded + len(self.dropped) == len(self.items)

    def to_json(self) -> dict[str, JSON]:
        return {
            "items": list(self.items),
            "started": self.started,
            # by index, in index order (JSON keys are strings)
            "active": {str(i): self.active[i].to_json() for i in sorted(self.active)},
            "results": list(self.results),
            "succeeded": self.succeeded,
            "dropped": list(self.dropped),
            "item_attempts": self.item_attempts,
            "untrusted_sources": list(self.untrusted_sources),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MapRecord:
        return cls(
            items=tuple(data["items"]),
            started=data["started"],
            active={int(i): ItemRecord(**item) for i, item in data["active"].items()},
            results=tuple(data["results"]),
            succeeded=data["succeeded"],
            dropped=tuple(data["dropped"]),
            item_attempts=data["item_attempts"],
            untrusted_sources=tuple(data.get("untrusted_sources") or ()),
        )


def map_summary(mapped: MapRecord) -> str:
    """One line for `baton show`.

    >>> map_summary(MapRecord(items=(1, 2, 3), started=3, succeeded=2, dropped=(1,),
    ...     item_attempts=5))
    'map: 3 item(s), 2 succeeded, 1 dropped (null), 0 running; 5 item attempt(s)'
    """
    dropped = f", {len(mapped.dropped)} dropped (null)" if mapped.dropped else ""
    running = sum(1 for item in mapped.active.values() if item.attempt_open)
    return (
        f"map: {mapped.count} item(s), {mapped.succeeded} succeeded{dropped}, "
        f"{running} running; {mapped.item_attempts} item attempt(s)"
    )
