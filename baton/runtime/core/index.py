"""A run's step index: which steps `decide` must look at, kept up to date by `apply`.

Without it, every `decide` (several per step) and every status check walked all the
steps of the run, so a step of a 1,000-step run cost ten times one of a 100-step run.
The index holds, for the steps of one `RunState`:

- the steps in each lifecycle state (`by_state`), so the terminal count, the failed
  step and the steps awaiting a person are found without a scan;
- for each pending step, how many of its needs are not committed (`unmet`) and how
  many were skipped (`skipped_needs`): a pending step is *ready* (its `_ready` may act)
  when none is unmet or one was skipped; `ready` holds those;
- the committed outputs as the template scope shows them (`outputs`), and the steps
  that received untrusted data (`tainted`).

It is derived, never stored: nothing of it is in `to_json` or the database, and it can
be rebuilt from the state alone (`index_of`), which is what happens for a state loaded
from a snapshot, folded by hand, or built by code that does not maintain it. `apply`
moves it along with each step change (`moved`), in O(the steps the event touches).

Purity: an index is a mutable object shared by a state and the states `apply` derives
from it, but it describes exactly one `steps` mapping (`index.steps is state.steps`);
an older state whose index moved on finds the mismatch and rebuilds its own. A step's
needs come from the run's `shape` (fixed at start; a compatible spec change keeps them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from baton.runtime.lifecycle import TERMINAL
from baton.runtime.model import JSON, StepState

if TYPE_CHECKING:
    from baton.runtime.core.state import RunState, StepRecord

S = StepState
_ATTRIBUTE = "_step_index"  # where a RunState keeps its index (outside its fields)
# non-terminal states other than pending: every step in one is looked at by `decide`
_MOVING = tuple(s for s in StepState if s not in TERMINAL and s is not S.PENDING)


class Graph:
    """The run's dependencies, fixed at start: each step's needs and dependents."""

    __slots__ = ("dependents", "needs", "position")

    def __init__(self, plan: tuple[str, ...], shape: dict[str, str]) -> None:
        self.position = {step: index for index, step in enumerate(plan)}
        self.needs: dict[str, tuple[str, ...]] = {}
        dependents: dict[str, list[str]] = {step: [] for step in plan}
        for step in plan:
            needs = needs_of(shape.get(step, ""))
            self.needs[step] = needs
            for need in needs:
                dependents.setdefault(need, []).append(step)
        self.dependents = {step: tuple(found) for step, found in dependents.items()}


def needs_of(shape: str) -> tuple[str, ...]:
    """A step's needs, read from its shape (`runtime.core.plan.step_shape`).

    >>> needs_of("needs=a,b;output=note@1#ab;workflow=-")
    ('a', 'b')
    """
    head = shape.partition(";")[0]
    if not head.startswith("needs="):
        return ()
    return tuple(need for need in head.removeprefix("needs=").split(",") if need)


class StepIndex:
    """The derived indexes of one `steps` mapping (see the module docstring)."""

    __slots__ = (
        "by_state",
        "graph",
        "outputs",
        "ready",
        "skipped_needs",
        "steps",
        "tainted",
        "unmet",
    )

    def __init__(self, graph: Graph, steps: dict[str, StepRecord]) -> None:
        self.graph = graph
        self.steps = steps
        self.by_state: dict[StepState, set[str]] = {state: set() for state in StepState}
        self.unmet: dict[str, int] = {}
        self.skipped_needs: dict[str, int] = {}
        self.ready: set[str] = set()
        self.outputs: dict[str, dict[str, JSON]] = {}
        self.tainted: set[str] = set()
        for step, record in steps.items():
            self.by_state[record.state].add(step)
            if record.state is S.COMMITTED:
                self.outputs[step] = {"output": record.output}
            if record.untrusted_sources:
                self.tainted.add(step)
        for step in steps:
            needs = graph.needs.get(step, ())
            states = [steps[need].state if need in steps else S.PENDING for need in needs]
            self.unmet[step] = sum(state is not S.COMMITTED for state in states)
            self.skipped_needs[step] = sum(state is S.SKIPPED for state in states)
            self._recheck(step)

    # -- what `decide` and the state's views ask

    def candidates(self) -> list[str]:
        """The steps `decide` must look at, in plan order: every step in motion or
        waiting on a person or a timer, and every pending step whose needs are settled."""
        found: list[str] = [*self.ready]
        for state in _MOVING:
            found.extend(self.by_state[state])
        if len(found) > 1:
            position = self.graph.position
            found.sort(key=lambda step: position.get(step, -1))
        return found

    def finished(self) -> int:
        """How many steps are in a terminal state."""
        return sum(len(self.by_state[state]) for state in TERMINAL)

    def first(self, state: StepState) -> str | None:
        """The first step in plan order that is in `state`."""
        steps = self.by_state[state]
        if not steps:
            return None
        position = self.graph.position
        return min(steps, key=lambda step: position.get(step, -1))

    # -- kept up to date by `apply`

    def moved(self, step: str, old: StepRecord, new: StepRecord, steps: dict[str, Any]) -> None:
        """`step`'s record went from `old` to `new`; `steps` is the new mapping."""
        self.steps = steps
        if new.untrusted_sources:
            self.tainted.add(step)
        elif old.untrusted_sources:
            self.tainted.discard(step)
        if new.state is S.COMMITTED:  # its output as the scope shows it
            if old.state is not S.COMMITTED or new.output is not old.output:
                self.outputs[step] = {"output": new.output}
        elif old.state is S.COMMITTED:
            self.outputs.pop(step, None)
        if old.state is new.state:
            return
        self.by_state[old.state].discard(step)
        self.by_state[new.state].add(step)
        self._recheck(step)
        unmet, skipped = self.unmet, self.skipped_needs
        for dependent in self.graph.dependents.get(step, ()):
            if old.state is S.COMMITTED:
                unmet[dependent] += 1
            elif new.state is S.COMMITTED:
                unmet[dependent] -= 1
            if old.state is S.SKIPPED:
                skipped[dependent] -= 1
            elif new.state is S.SKIPPED:
                skipped[dependent] += 1
            self._recheck(dependent)

    def _recheck(self, step: str) -> None:
        """Put `step` in `ready` or take it out, from its state and its counters."""
        record = self.steps.get(step)
        if (
            record is not None
            and record.state is S.PENDING
            and (self.unmet.get(step, 0) == 0 or self.skipped_needs.get(step, 0) > 0)
        ):
            self.ready.add(step)
        else:
            self.ready.discard(step)


def index_of(state: RunState) -> StepIndex:
    """The state's index: the one `apply` kept up to date, else built now (O(steps))."""
    index: StepIndex | None = state.__dict__.get(_ATTRIBUTE)
    if index is not None and index.steps is state.steps:
        return index
    graph = index.graph if index is not None else Graph(state.plan, state.shape)
    index = StepIndex(graph, state.steps)
    state.__dict__[_ATTRIBUTE] = index  # a derived view: the frozen fields are untouched
    return index


def carry(before: RunState, after: RunState, moves: Iterable[tuple[str, StepRecord]]) -> None:
    """Move `before`'s index on to `after` (`after.steps` = `before.steps` with each
    (step, new record) of `moves`), if `before` had an up-to-date one; else `after`
    builds its own when first asked."""
    index: StepIndex | None = before.__dict__.get(_ATTRIBUTE)
    if index is None or index.steps is not before.steps:
        after.__dict__.pop(_ATTRIBUTE, None)
        return
    old_steps = before.steps
    for step, record in moves:
        index.moved(step, old_steps[step], record, after.steps)
    after.__dict__[_ATTRIBUTE] = index
