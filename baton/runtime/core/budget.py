"""Spending caps: what a run and each of its agents may spend, checked before attempts. Pure.

A run's caps are pinned when it starts (`run_started` carries them, from `Workflow.budget`
and each `AgentBinding.budget`) and raised only by `budget_raised` events, so the log
alone says what the caps were at every point. Caps are keyed by scope: `run`, or
`agent:NAME` for one agent's share of the run.

What counts: the tokens (in + out) and the cost in USD that agents reported for their
attempts (`output_received`, `attempt_failed`) and for completed delegations; the run's
spend is the sum over its steps, an agent's the sum over the attempts and delegations it
made. The check runs before an attempt starts (an interrupted attempt that is run again
is not checked again: it was admitted once). At or over a cap:

- `enforce`: no attempt starts; `budget_exceeded` is recorded and the run waits (status
  `waiting`, on `budget`) until `budget_raised` lifts the cap (`baton resume RUN
  --raise-budget usd=N`);
- `audit`: `budget_exceeded` is recorded once per crossing of that cap, and the run goes on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from baton.runtime.core import events as ev
from baton.runtime.core.commands import ExceedBudget, StartAttempt
from baton.runtime.core.state import RunState
from baton.runtime.model import JSON, BudgetMode, Workflow

RUN = "run"
MEASURES = ("usd", "tokens")
RAISE_BUDGET = "raise_budget"  # the inbox kind of a raise (runtime.core.decisions)


class BudgetRefused(ValueError):
    """A raise the run cannot take: the message says why, for the command line."""


def scope_of(agent: str | None) -> str:
    """The key of a cap: `run`, or `agent:NAME`.

    >>> scope_of(None), scope_of("webster")
    ('run', 'agent:webster')
    """
    return RUN if agent is None else f"agent:{agent}"


def describe_scope(scope: str) -> str:
    """`the run` or `agent 'NAME'`, for messages."""
    return "the run" if scope == RUN else f"agent '{scope.removeprefix('agent:')}'"


def pinned_budgets(workflow: Workflow) -> dict[str, dict[str, JSON]]:
    """The caps a new run of `workflow` starts with, by scope (sorted, deterministic)."""
    budgets: dict[str, dict[str, JSON]] = {}
    if workflow.budget is not None:
        budgets[RUN] = _cap(workflow.budget.usd, workflow.budget.tokens, workflow.budget.mode)
    for agent in sorted(workflow.agents, key=lambda a: a.name):
        if agent.budget is not None:
            budget = agent.budget
            budgets[scope_of(agent.name)] = _cap(budget.usd, budget.tokens, budget.mode)
    return budgets


def _cap(usd: float | None, tokens: int | None, mode: BudgetMode) -> dict[str, JSON]:
    return {"usd": usd, "tokens": tokens, "mode": mode.value}


@dataclass(frozen=True)
class Spend:
    """Tokens (in + out) and USD spent."""

    usd: float = 0.0
    tokens: int = 0

    def of(self, measure: str) -> float:
        return self.usd if measure == "usd" else float(self.tokens)


@dataclass(frozen=True)
class Crossing:
    """A cap at or over its limit: which scope and measure, how much was spent, the limit."""

    scope: str
    measure: str
    spent: float
    limit: float
    mode: str

    @property
    def key(self) -> str:
        return f"{self.scope}.{self.measure}"

    def command(self, step: str) -> ExceedBudget:
        return ExceedBudget(step, self.scope, self.measure, self.spent, self.limit, self.mode)


def crossings(state: RunState, agent: str | None) -> list[Crossing]:
    """The caps that an attempt of `agent` would start at or over, in a fixed order."""
    found = []
    for scope in (RUN, scope_of(agent)) if agent is not None else (RUN,):
        cap = state.budgets.get(scope)
        if cap is None:
            continue
        spend = spend_of(state, scope)
        for measure in MEASURES:
            limit = cap.get(measure)
            if limit is None:
                continue
            spent = spend.of(measure)
            if spent >= float(limit):
                mode = str(cap["mode"])
                found.append(Crossing(scope, measure, _number(spent), _number(limit), mode))
    return found


def spend_of(state: RunState, scope: str) -> Spend:
    """What the run (scope `run`) or one agent (`agent:NAME`) has spent so far."""
    if scope == RUN:
        usd = 0.0
        tokens = 0
        for record in state.steps.values():
            usd += record.usage.cost_usd
            tokens += record.usage.tokens_in + record.usage.tokens_out
        return Spend(usd, tokens)
    usage = state.agent_usage.get(scope.removeprefix("agent:"))
    if usage is None:
        return Spend()
    return Spend(usage.cost_usd, usage.tokens_in + usage.tokens_out)


def admit(
    state: RunState, start: StartAttempt, recorded: set[str]
) -> tuple[bool, list[ExceedBudget]]:
    """Whether `start` may go ahead under the run's caps, and the crossings to record.

    `recorded`: crossings already recorded by this call of `decide` (updated), so that
    steps starting together record a cap once. An enforced cap refuses the start; an
    audited one is recorded once per crossing and lets it go."""
    if start.restart or not state.budgets:
        return True, []
    if state.budget_wait is not None:
        return False, []
    admitted = True
    records = []
    for crossing in crossings(state, start.agent):
        enforced = crossing.mode == BudgetMode.ENFORCE.value
        admitted = admitted and not enforced
        key = crossing.key
        if key in recorded or (not enforced and key in state.budget_crossed):
            continue
        recorded.add(key)
        records.append(crossing.command(start.step))
    return admitted, records


def _number(value: JSON) -> float:
    """A whole number stays an int in the log (tokens), a fraction a float (USD) without
    float noise (0.30000000000000004).

    >>> _number(2000.0), _number(0.1 + 0.2)
    (2000, 0.3)
    """
    number = round(float(value), 10)
    return int(number) if number.is_integer() else number


def raise_event(
    budgets: dict[str, dict[str, JSON]],
    spend: Spend,
    agent: str | None,
    limits: dict[str, float],
    by: str,
) -> ev.BudgetRaised:
    """The event raising the cap of `agent` (None: the run's) to `limits`; BudgetRefused
    when that scope has no budget or a new limit is not above what was spent already."""
    scope = scope_of(agent)
    if not limits:
        raise BudgetRefused("nothing to raise: give usd=N and/or tokens=N")
    unknown = sorted(set(limits) - set(MEASURES))
    if unknown:
        raise BudgetRefused(f"unknown budget measure '{unknown[0]}'; expected one of usd, tokens")
    cap = budgets.get(scope)
    if cap is None:
        known = ", ".join(describe_scope(s) for s in sorted(budgets)) or "none"
        raise BudgetRefused(f"{describe_scope(scope)} has no budget to raise (budgets: {known})")
    for measure in MEASURES:
        if measure not in limits:
            continue
        value = limits[measure]
        if not value > spend.of(measure):
            spent = f"${spend.usd:.4f}" if measure == "usd" else f"{spend.tokens} tokens"
            raise BudgetRefused(
                f"cannot set the {measure} budget of {describe_scope(scope)} to {value:g}: "
                f"{spent} spent already; give a limit above that"
            )
    return ev.BudgetRaised(
        cap="run" if agent is None else "agent",
        agent=agent,
        usd=limits.get("usd", _float_or_none(cap.get("usd"))),
        tokens=int(limits["tokens"]) if "tokens" in limits else _int_or_none(cap.get("tokens")),
        by=by,
        previous={"usd": cap.get("usd"), "tokens": cap.get("tokens")},
    )


def encode_limits(limits: dict[str, float]) -> str:
    """How a raise's limits travel through the inbox (its `comment` column)."""
    return json.dumps(limits, sort_keys=True)


def decode_limits(text: str | None) -> dict[str, float]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        raise BudgetRefused("a budget raise with unreadable limits") from None
    if not isinstance(value, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
    ):
        raise BudgetRefused("a budget raise with unreadable limits")
    return {str(k): float(v) for k, v in value.items()}


def _float_or_none(value: JSON) -> float | None:
    return None if value is None else float(value)


def _int_or_none(value: JSON) -> int | None:
    return None if value is None else int(value)
