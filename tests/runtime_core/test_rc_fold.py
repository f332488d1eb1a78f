"""Folding the event log reproduces the stored state, for random runs (hypothesis).

Random workflows (random DAGs of builtin agents that echo, fail, flake or answer
malformed output; random retry policies, fallbacks, conditions and approval gates,
decided at random) run through the real driver on a real SQLite file. For each run: the
fold of the stored log equals the stored state; the invariants of the runtime hold.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from rc_workflows import (
    AGENTS,
    PAY,
    REVIEW_AGENTS,
    TOOLED,
    VERDICT,
    costly_agent,
    text_step,
    tool_model,
    workflow,
)

from baton.runtime import api
from baton.runtime.core.apply import apply, fold
from baton.runtime.core.plan import workflow_pin
from baton.runtime.model import (
    NOTIFY_EVENTS,
    Approval,
    ApprovalStage,
    Budget,
    BudgetMode,
    FailureClass,
    Fallback,
    NotifySink,
    OnExhausted,
    RetryPolicy,
    Review,
    RouteCase,
    StepState,
    Template,
    Workflow,
)
from baton.runtime.store import Store

# `tooled`: a scripted model whose tool call waits for a manager (core.tool_approvals)
BEHAVIOURS = (
    "echo",
    "flaky",
    "fail",
    "malformed",
    "fail_acl",
    "costly",
    "costly",
    "tooled",
    "tooled",
)
FALLBACK_AGENTS = ("echo", "flaky", "fail", "malformed")


@st.composite
def budgets(draw: st.DrawFn) -> Budget | None:
    """No budget, or caps on USD and/or tokens small enough to be crossed."""
    if draw(st.integers(0, 3)) == 0:
        return None
    usd = draw(st.one_of(st.none(), st.sampled_from([0.0, 0.01, 0.02])))
    tokens = draw(st.one_of(st.none(), st.sampled_from([0, 500, 1500])))
    return Budget(usd, tokens, draw(st.sampled_from(list(BudgetMode))))


@st.composite
def workflows(draw: st.DrawFn) -> Workflow:
    count = draw(st.integers(1, 5))
    steps = []
    for index in range(count):
        step_id = f"s{index}"
        needs = tuple(
            sorted(draw(st.sets(st.sampled_from([f"s{i}" for i in range(index)]), max_size=2)))
            if index
            else ()
        )
        behaviour = draw(st.sampled_from(BEHAVIOURS))
        agent = "fail" if behaviour == "fail_acl" else behaviour
        agent_input: dict[str, Any] = {"text": step_id, "output": {"text": step_id}}
        if behaviour == "flaky":
            agent_input["succeed_on_attempt"] = draw(st.integers(1, 3))
        if behaviour == "fail_acl":
            agent_input["failure"] = FailureClass.ACL_DENIED.value
        if behaviour == "costly":  # reports usage, as a model would
            agent_input = {
                "text": step_id,
                "tokens": draw(st.sampled_from([300, 1000])),
                "usd": draw(st.sampled_from([0.005, 0.015])),
            }
        retry = RetryPolicy(
            max_attempts=draw(st.integers(1, 3)),
            on=tuple(draw(st.sets(st.sampled_from(list(FailureClass))))),
            initial_ms=1,
            max_ms=2,
        )
        condition = None
        if draw(st.booleans()):
            truth = draw(st.booleans())
            condition = Template(f"{str(truth).lower()} and inputs.topic != ''", True)
        fallbacks = tuple(
            Fallback(
                on=tuple(draw(st.sets(st.sampled_from(list(FailureClass)), min_size=1))),
                agent=draw(st.sampled_from(FALLBACK_AGENTS)),
            )
            for _ in range(draw(st.integers(0, 2)))
        )
        approval = None
        if draw(st.integers(0, 3)) == 0:
            approval = Approval("manager", draw(st.sampled_from(list(ApprovalStage))))
        route = draw(routes())
        if route:  # a routed step: its agent is chosen by the route (maybe none matches)
            agent = None  # type: ignore[assignment]
        review = None
        # a review loop, its verdicts drawn; not on a routed step (lint: B621)
        if not route and draw(st.integers(0, 3)) == 0:
            verdicts = draw(st.lists(st.sampled_from(["pass", "fail"]), min_size=1, max_size=3))
            how = draw(st.sampled_from(list(OnExhausted)))
            if approval is not None and how is OnExhausted.ESCALATE:
                how = OnExhausted.ACCEPT  # one gate a step (lint: B626)
            review = Review(
                by="auditor",
                output=VERDICT,
                pass_when=Template("review.verdict == 'pass'", True),
                feedback=Template("{{ review.notes }}"),
                input={"draft": "draft {{ round }} of it", "verdicts": " ".join(verdicts)},
                max_rounds=draw(st.integers(1, 3)),
                on_exhausted=how,
                escalate_to="manager" if how is OnExhausted.ESCALATE else None,
            )
        steps.append(
            text_step(
                step_id,
                agent,
                route=route,
                needs=needs,
                input=agent_input if behaviour != "echo" else {"text": step_id},
                retry=retry,
                condition=condition,
                approval=approval,
                fallbacks=fallbacks,
                review=review,
            )
        )
    built = workflow(
        "random",
        *steps,
        result=draw(st.sampled_from([None, *[s.id for s in steps]])),
        budget=draw(budgets()),
        agents=(*AGENTS, REVIEW_AGENTS[-1], costly_agent(draw(budgets())), TOOLED),
        tools=(PAY,),
    )
    # a webhook whose variable is unset: `notification_failed` events in the log, during
    # the run and after its end (runtime.notify), folded like any other
    if draw(st.booleans()):
        sink = NotifySink("BATON_FOLD_TEST_UNSET_HOOK", events=NOTIFY_EVENTS)
        built = dataclasses.replace(built, notify=(sink,))
    return built


@st.composite
def routes(draw: st.DrawFn) -> tuple[RouteCase, ...]:
    """Mostly no route; else cases over the run's topic (`tea`), maybe a default."""
    if draw(st.integers(0, 3)) != 0:
        return ()
    cases = [
        RouteCase(
            when=Template(f"inputs.topic == '{draw(st.sampled_from(['tea', 'coffee']))}'", True),
            agent=draw(st.sampled_from(FALLBACK_AGENTS)),
        )
        for _ in range(draw(st.integers(1, 2)))
    ]
    if draw(st.booleans()):
        cases.append(RouteCase(agent=draw(st.sampled_from(FALLBACK_AGENTS))))
    return tuple(cases)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(wf=workflows(), decisions=st.lists(st.booleans(), min_size=10, max_size=10))
def test_fold_of_the_log_is_the_stored_state(
    tmp_path_factory: Any, wf: Workflow, decisions: list[bool]
) -> None:
    db = tmp_path_factory.mktemp("fold") / "baton.db"
    loaded = api.LoadedWorkflow(wf, workflow_pin(wf), "random")
    options = api.DriverOptions(detach=True, poll_ms=5, call_agent=tool_model)
    result = api.start_run(db, loaded, {"topic": "tea"}, "run", options)
    for approve in decisions:  # decide each gate as it comes, then drive on
        state = result.state
        if state.outcome is not None:
            break
        waiting = [s for s, r in state.steps.items() if r.approval and not r.approval.decision]
        if state.budget_wait is not None:  # raise the cap it waits on, far enough
            agent = state.budget_wait["agent"]
            measure = str(state.budget_wait["measure"])
            api.raise_budget(db, "run", agent, {measure: 1e9}, "ops")
        else:
            decide = api.approve if approve else api.reject
            decide(db, "run", waiting[0], "alice", "random")
        result = api.resume_run(db, "run", lambda spec: loaded, options=options)
    state = api.get_state(db, "run")
    assert state.outcome is not None
    check_invariants(db, wf, state.to_json())


def check_invariants(db: Path, wf: Workflow, stored: dict[str, Any]) -> None:
    with Store(db) as store:
        events = store.load_events("run")
    assert fold(events).to_json() == stored
    with sqlite3.connect(db) as connection:
        raw = json.loads(connection.execute("SELECT state FROM runs").fetchone()[0])
        # a review loop's rounds sent back stored outputs never committed
        outputs = dict(
            connection.execute("SELECT step, MAX(committed_seq) FROM outputs GROUP BY step")
        )
        validated = connection.execute("SELECT data FROM events WHERE type = 'step_validated'")
        payloads = [json.loads(row[0]) for row in validated]
    # outputs live once, in their table: never in the stored state or an event's data
    assert all(record["output"] is None for record in raw["steps"].values())
    assert all("output" not in data and data["checksum"] for data in payloads)
    for step in wf.steps:
        record = stored["steps"][step.id]
        # malformed outputs are never committed (nor stored): a step of the malformed agent
        # commits only through a fallback agent, which then ran its last attempt
        if step.agent == "malformed" and not step.fallbacks:
            assert record["state"] != StepState.COMMITTED.value and step.id not in outputs
        if record["state"] == StepState.COMMITTED.value:
            assert record["agent"] != "malformed"
        # retries stop at max_attempts (each fallback has its own budget); never-retried
        # classes get one attempt, and no fallback
        # (a review loop's every round has that budget again)
        rounds = step.review.max_rounds if step.review is not None else 1
        assert record["attempts"] <= step.retry.max_attempts * (1 + len(step.fallbacks)) * rounds
        loop = record.get("review")
        if step.review is None:
            assert loop is None
        elif loop is not None:
            assert 1 <= loop["round"] <= step.review.max_rounds
            # committed only through a passing review, or an exhausted loop that accepts
            # or whose escalation was approved
            if record["state"] == StepState.COMMITTED.value:
                assert loop["status"] in ("passed", "exhausted")
                if loop["status"] == "exhausted":
                    assert loop["on_exhausted"] != "fail"
        assert record.get("fallback", 0) <= len(step.fallbacks)
        if (record["error"] or {}).get("failure") == FailureClass.ACL_DENIED.value:
            # never retried: one attempt under the agent that was refused (a fallback may
            # have taken over after another failure; attempt_base counts the ones before)
            assert record["attempts"] - record.get("attempt_base", 0) == 1
        if record["state"] == StepState.COMMITTED.value:
            assert outputs[step.id] is not None
    commits = [e.step for e in events if e.type == "step_committed"]
    assert len(commits) == len(set(commits))
    check_budgets(wf, events)
    check_routes(wf, events, stored)
    check_tool_approvals(events)


def check_tool_approvals(events: list[Any]) -> None:
    """A tool call that needs approval is made only once granted, at most once per
    grant; a rejected one is refused, never made (core.tool_approvals)."""
    grants = made = refusals = rejections = 0
    for event in events:
        body = event.body
        if event.type == "approval_granted" and body.stage == "tool":
            grants += 1
        elif event.type == "approval_rejected" and body.stage == "tool":
            rejections += 1
        elif event.type == "tool_call_started" and not body.reused:
            made += 1
            assert made <= grants, "a tool call made without a grant"
        elif event.type == "tool_call_failed" and body.failure == "rejected":
            refusals += 1
            assert refusals <= rejections
    if grants or rejections:
        hypothesis_event("tool call decided")


def check_routes(wf: Workflow, events: list[Any], stored: dict[str, Any]) -> None:
    """A routed step is routed once, before its first attempt; every attempt runs the
    chosen agent (or a fallback); no match fails it with no_route before any attempt."""
    for step in wf.steps:
        if not step.route:
            continue
        record = stored["steps"][step.id]
        mine = [e for e in events if e.step == step.id]
        selected = [e for e in mine if e.type == "route_selected"]
        assert len(selected) <= 1
        started = [e for e in mine if e.type == "attempt_started"]
        if started:
            assert selected and mine.index(selected[0]) < mine.index(started[0])
            hypothesis_event("routed step ran")
        if not selected:
            continue
        body = selected[0].body
        # the oracle: the first case whose topic is the run's ('tea'), or the default
        expected = next(
            (
                index
                for index, case in enumerate(step.route, start=1)
                if case.when is None or case.when.source == "inputs.topic == 'tea'"
            ),
            0,
        )
        assert body.case == expected
        assert record["route"]["case"] == expected
        if expected == 0:
            assert record["state"] == StepState.FAILED.value and not started
            assert record["error"]["failure"] == FailureClass.NO_ROUTE.value
            hypothesis_event("no_route")
        runners = {body.target, *(f.agent for f in step.fallbacks)}
        assert {e.body.agent for e in started} <= runners


def check_budgets(wf: Workflow, events: list[Any]) -> None:
    """No attempt started at or over an enforced cap; an audited cap is recorded at most
    once per raise of it; the spend per agent adds up to the run's."""
    state = None
    for event in events:
        if event.type == "attempt_started" and not event.body.restart:
            assert state is not None
            for scope, cap in _enforced(state, event.body.agent):
                spent = _spent(state, scope)
                for measure, limit in cap.items():
                    assert spent[measure] < limit, (event, scope, measure)
        state = apply(state, event)
    assert state is not None
    for kind in ("budget_exceeded", "budget_raised", "revision_requested", "review_exhausted"):
        if any(e.type == kind for e in events):
            hypothesis_event(kind)  # shown by --hypothesis-show-statistics
    audits = [
        f"{e.body.agent}.{e.body.measure}"
        for e in events
        if e.type == "budget_exceeded" and e.body.mode == "audit"
    ]
    raises = [f"{e.body.agent}" for e in events if e.type == "budget_raised"]
    for crossing in set(audits):
        assert audits.count(crossing) <= 1 + raises.count(crossing.rsplit(".", 1)[0])
    totals = state.totals()
    assert sum(u.tokens_in for u in state.agent_usage.values()) == totals["tokens_in"]
    assert abs(sum(u.cost_usd for u in state.agent_usage.values()) - totals["cost_usd"]) < 1e-9


def _enforced(state: Any, agent: str | None) -> list[tuple[str, dict[str, float]]]:
    found = []
    for scope in ("run", f"agent:{agent}"):
        cap = state.budgets.get(scope)
        if cap is not None and cap["mode"] == "enforce":
            limits = {m: float(cap[m]) for m in ("usd", "tokens") if cap[m] is not None}
            found.append((scope, limits))
    return found


def _spent(state: Any, scope: str) -> dict[str, float]:
    if scope == "run":
        totals = state.totals()
        return {"usd": totals["cost_usd"], "tokens": totals["tokens_in"] + totals["tokens_out"]}
    usage = state.agent_usage.get(scope.removeprefix("agent:"))
    if usage is None:
        return {"usd": 0.0, "tokens": 0}
    return {"usd": usage.cost_usd, "tokens": usage.tokens_in + usage.tokens_out}
