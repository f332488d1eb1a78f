"""The commands of map steps (runtime.core.mapping) and the events they become.

Apart from `runtime.core.commands` only so that module stays small; it lists these in
its `Command` union and sends them to `event_for` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from baton.runtime.canonical import checksum
from baton.runtime.core import events as ev
from baton.runtime.model import JSON, FailureClass, RetryPolicy

if TYPE_CHECKING:
    from baton.runtime.core.commands import StartAttempt

# -- commands (a driver executes them as it does the core's others: append the event,
# and for StartItem call the agent once it is durable)


@dataclass(frozen=True)
class StartMap:
    step: str
    attempt: int
    idempotency_key: str
    items: tuple[JSON, ...]
    agent: str | None


@dataclass(frozen=True)
class StartItem:
    """Run one attempt of item `index` (or, with `restart`, run an interrupted one again)."""

    step: str
    index: int
    attempt: int
    idempotency_key: str  # the item's
    attempt_id: str
    item: JSON
    external: bool = False
    restart: bool = False
    agent: str | None = None

    def as_attempt(self) -> StartAttempt:
        """The attempt an agent runs for this item (`runtime.driver.attempt`)."""
        from baton.runtime.core.commands import StartAttempt

        return StartAttempt(
            step=self.step,
            attempt=self.attempt,
            idempotency_key=self.idempotency_key,
            attempt_id=self.attempt_id,
            external=self.external,
            restart=self.restart,
            agent=self.agent,
        )


@dataclass(frozen=True)
class TimeoutItem:
    step: str
    index: int
    attempt: int
    timeout_ms: int


@dataclass(frozen=True)
class RetryItem:
    step: str
    index: int
    failed_attempt: int
    policy: RetryPolicy


@dataclass(frozen=True)
class DropItem:
    step: str
    index: int
    failure: str
    message: str


@dataclass(frozen=True)
class FinishMap:
    """Every item is settled: the step is validated with the items' outputs."""

    step: str
    attempt: int
    idempotency_key: str
    output: tuple[JSON, ...]
    untrusted_sources: tuple[str, ...] = ()


MapCommand = StartMap | StartItem | TimeoutItem | RetryItem | DropItem | FinishMap
MAP_COMMANDS = (StartMap, StartItem, TimeoutItem, RetryItem, DropItem, FinishMap)


def event_for(command: MapCommand, now_ms: int, jitter_sample: float = 0.0) -> ev.EventBody:
    """The event recording a map command (`commands.event_for` sends them here)."""
    match command:
        case StartMap():
            items = list(command.items)
            return ev.MapStarted(
                step=command.step,
                attempt=command.attempt,
                idempotency_key=command.idempotency_key,
                count=len(items),
                checksum=checksum(items),
                items=items,
                agent=command.agent,
            )
        case StartItem():
            return ev.MapItemStarted(
                step=command.step,
                attempt=command.attempt,
                index=command.index,
                idempotency_key=command.idempotency_key,
                attempt_id=command.attempt_id,
                restart=command.restart,
            )
        case TimeoutItem():
            return ev.MapItemFailed(
                step=command.step,
                attempt=command.attempt,
                index=command.index,
                failure=FailureClass.TIMEOUT.value,
                message=f"no reply within {command.timeout_ms} ms",
                latency_ms=command.timeout_ms,
            )
        case RetryItem():
            delay = command.policy.delay_ms(command.failed_attempt, jitter_sample)
            return ev.MapItemRetryScheduled(
                step=command.step,
                attempt=command.failed_attempt + 1,
                index=command.index,
                delay_ms=delay,
                due_ms=now_ms + delay,
                jitter=jitter_sample,
            )
        case DropItem():
            return ev.MapItemDropped(
                step=command.step,
                index=command.index,
                failure=command.failure,
                message=command.message,
            )
        case FinishMap():
            output = list(command.output)
            return ev.StepValidated(
                step=command.step,
                attempt=command.attempt,
                idempotency_key=command.idempotency_key,
                checksum=checksum(output),
                output=output,
                untrusted_sources=command.untrusted_sources,
            )
    raise TypeError(f"not a map command: {command!r}")


def item_key(step_key: str, index: int) -> str:
    """Item `index`'s idempotency key: the step's key and the index.

    >>> item_key("abc", 2)
    'abc/2'
    """
    return f"{step_key}/{index}"
