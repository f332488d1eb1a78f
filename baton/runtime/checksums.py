"""Artifact integrity: a committed output must still be the output that was validated.

Every validated output is stored with `artifacts_checksum`, the sha256 of its canonical
JSON (RFC 8785 style, `runtime.canonical`), in `step_validated` / `step_committed` and
in the state. The driver checks it:

- when a run is resumed, for every output the database gives back (steps' outputs
  and completed delegations' outputs);
- before a step starts, for the outputs it consumes (the steps its templates and `if:`
  read, and its `needs`), once per output per driver.

A mismatch means the database was changed behind Baton's back: the run fails with
failure `checksum_mismatch` and a message naming the step, and the data is never
rendered into any input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from baton.runtime.canonical import checksum
from baton.runtime.core import events as ev
from baton.runtime.core.state import RunState
from baton.runtime.model import JSON, Step, StepState, Template

FAILURE = "checksum_mismatch"
_READ = re.compile(r"\bsteps\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*['\"]([A-Za-z_]\w*)['\"]\s*\])")
_HOLDS_OUTPUT = frozenset(
    {StepState.VALIDATED, StepState.REVIEWING, StepState.AWAITING_REVIEW, StepState.COMMITTED}
)


@dataclass(frozen=True)
class Mismatch:
    """An output whose checksum is not the one recorded when it was validated."""

    step: str
    expected: str
    actual: str
    what: str = "output"  # or "delegation <key>"

    @property
    def message(self) -> str:
        return (
            f"the stored {self.what} of step '{self.step}' does not match its checksum "
            f"(recorded {self.expected[:16]}..., now {self.actual[:16]}...): the database "
            "was modified outside Baton; the data is not used"
        )


def actual_checksum(value: JSON) -> str:
    try:
        return checksum(value)
    except (TypeError, ValueError):
        return "unreadable"


def step_mismatches(state: RunState, steps: Iterable[str] | None = None) -> list[Mismatch]:
    """The steps (all, or `steps`) holding an output that fails its checksum."""
    found = []
    for step in state.plan if steps is None else steps:
        record = state.steps.get(step)
        if record is None or record.checksum is None or record.state not in _HOLDS_OUTPUT:
            continue
        actual = actual_checksum(record.output)
        if actual != record.checksum:
            found.append(Mismatch(step, record.checksum, actual))
    return found


Completed = dict[str, tuple[JSON, str]]  # delegation key -> (output, checksum)


def delegation_mismatches(events: Iterable[ev.Event]) -> tuple[Completed, list[Mismatch]]:
    """The completed delegations in a log (key -> (output, checksum)) and those whose
    stored output fails its checksum (left out of the map)."""
    completed: Completed = {}
    found = []
    for event in events:
        body = event.body
        if isinstance(body, ev.DelegationCompleted):
            actual = actual_checksum(body.output)
            if actual == body.checksum:
                completed[body.idempotency_key] = (body.output, body.checksum)
            else:
                what = f"output of its delegation to '{body.agent}'"
                found.append(Mismatch(body.step, body.checksum, actual, what))
        elif isinstance(body, ev.ToolCallCompleted):  # reused like a delegation's output
            actual = actual_checksum(body.result)
            if actual == body.checksum:
                completed[body.key] = (body.result, body.checksum)
            else:
                what = f"result of its call of tool '{body.tool}'"
                found.append(Mismatch(body.step, body.checksum, actual, what))
    return completed, found


def failure_event(mismatch: Mismatch) -> ev.RunFailed:
    return ev.RunFailed(step=mismatch.step, failure=FAILURE, message=mismatch.message)


def consumed_steps(step: Step) -> frozenset[str]:
    """The steps whose outputs `step` reads: those its templates and `if:` name, and
    its needs."""
    found = set(step.needs)
    for source in _sources(step):
        for match in _READ.finditer(source):
            found.add(match.group(1) or match.group(2))
    return frozenset(found)


def _sources(step: Step) -> list[str]:
    sources = [template.source for _, template in step.templates]
    if step.condition is not None:
        sources.append(step.condition.source)
    sources.extend(_strings(step.input))
    return sources


def _strings(value: JSON) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Template):
        return [value.source]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings(item)]
    return []


# id(step) -> (the step, kept alive so its id is not reused; the steps it reads)
_READS: dict[int, tuple[Step, frozenset[str]]] = {}


def _reads_of(step: Step) -> frozenset[str]:
    known = _READS.get(id(step))
    if known is None or known[0] is not step:
        if len(_READS) > 4096:
            _READS.clear()
        known = _READS[id(step)] = (step, consumed_steps(step))
    return known[1]


@dataclass
class ConsumptionCheck:
    """Checks the outputs a step is about to consume; each (step, checksum) once.

    `verified` also takes the outputs the driver itself hashed: those it validated
    (their checksum was computed from the very value it holds) and those it checked
    when it loaded the run. So in a run that never left memory nothing is hashed twice.
    """

    verified: set[tuple[str, str]] = field(default_factory=set)

    def check(self, state: RunState, step: Step) -> Mismatch | None:
        reads = _reads_of(step)
        pending = []
        for read in sorted(reads):
            record = state.steps.get(read)
            checked = record is None or (read, record.checksum) in self.verified
            if not checked and record is not None and record.checksum is not None:
                pending.append(read)
        mismatches = step_mismatches(state, pending)
        if mismatches:
            return mismatches[0]
        for read in pending:
            record = state.steps[read]
            assert record.checksum is not None
            self.verified.add((read, record.checksum))
        return None


__all__ = [
    "FAILURE",
    "ConsumptionCheck",
    "Mismatch",
    "consumed_steps",
    "delegation_mismatches",
    "failure_event",
    "step_mismatches",
]
