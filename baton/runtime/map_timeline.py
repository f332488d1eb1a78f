"""What `baton trace` shows of a map step's items (runtime.core.mapping): each item's
attempts, as the timeline shows a step's. Fed the `map_*` events by `runtime.timeline`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from baton.runtime.core import events as ev


@dataclass
class ItemAttempt:
    attempt: int
    start_ms: int
    end_ms: int | None = None
    status: str = "running"  # ok | a failure class | interrupted
    latency_ms: int | None = None
    message: str = ""
    restart: bool = False
    idempotency_key: str = ""


@dataclass
class MapLine:
    """A map step's items: how many, and each started item's attempts."""

    count: int = 0
    items: dict[int, list[ItemAttempt]] = field(default_factory=dict)
    dropped: list[int] = field(default_factory=list)

    def take(self, body: ev.EventBody, ts: int, last_ts: int) -> None:
        match body:
            case ev.MapStarted():
                self.count = body.count
            case ev.MapItemStarted():
                attempts = self.items.setdefault(body.index, [])
                if attempts and attempts[-1].end_ms is None:  # its process died
                    attempts[-1].end_ms, attempts[-1].status = last_ts, "interrupted"
                attempts.append(
                    ItemAttempt(
                        body.attempt, ts, restart=body.restart, idempotency_key=body.idempotency_key
                    )
                )
            case ev.MapItemSucceeded():
                self._close(body.index, ts, "ok", body.latency_ms)
            case ev.MapItemFailed():
                self._close(body.index, ts, body.failure, body.latency_ms, body.message)
            case ev.MapItemDropped():
                self.dropped.append(body.index)

    def _close(self, index: int, ts: int, status: str, latency_ms: int, message: str = "") -> None:
        attempts = self.items.get(index)
        if attempts:
            last = attempts[-1]
            last.end_ms, last.status, last.latency_ms, last.message = (
                ts,
                status,
                latency_ms,
                message,
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "dropped": list(self.dropped),
            "items": {str(i): [vars(a) for a in self.items[i]] for i in sorted(self.items)},
        }
