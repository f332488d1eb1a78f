"""Delegation at run time through real runs: the ACL, loops and the depth cap enforced
by the runtime, recorded with the chain; denials fail the step with `acl_denied` and
are never retried; a resumed run (after a real SIGKILL) does not delegate again;
command agents delegate over HTTP from a real subprocess."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from trust_flows import COMMANDING, DELEGATING, SHALLOW
from trust_support import baton, events, ledger, run_here, shown

from baton.runtime.delegation import delegation_key
from baton.runtime.model import Request


@pytest.fixture(autouse=True)
def _ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs write the builtin agents' calls where `ledger(tmp_path)` reads."""
    monkeypatch.setenv("BATON_LEDGER", str(tmp_path / "ledger.jsonl"))


def _of(log: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in log if event["type"] == kind]


def test_an_allowed_chain_of_delegations_runs_and_is_recorded(tmp_path: Path) -> None:
    inputs = {"topic": "tea", "chain": ["middle", "helper"]}
    state = run_here(tmp_path / "baton.db", DELEGATING, inputs, "ok-1").state
    assert state.status == "succeeded", state.error
    assert state.steps["main"].output == {"text": "lead relayed: middle relayed: tea"}
    from baton.runtime import api

    log = api.get_events(tmp_path / "baton.db", "ok-1")
    requested = _of(log, "delegation_requested")
    assert [e["data"]["chain"] for e in requested] == [
        ["lead", "middle"],
        ["lead", "middle", "helper"],
    ]
    step_key = state.steps["main"].idempotency_key
    assert step_key is not None
    middle_key = delegation_key(step_key, "middle", 1)
    assert requested[0]["data"]["idempotency_key"] == middle_key
    assert requested[0]["data"]["parent_key"] == step_key
    assert requested[1]["data"]["parent_key"] == middle_key  # derived from its parent's
    assert requested[1]["data"]["output"] == "note@1"
    completed = _of(log, "delegation_completed")
    assert [e["data"]["agent"] for e in completed] == ["helper", "middle"]
    assert all(e["step"] == "main" and e["attempt"] == 1 for e in requested + completed)


@pytest.mark.parametrize(
    ("workflow", "chain", "reason", "denied_chain", "message"),
    [
        (
            DELEGATING,
            ["outsider"],
            "not_allowed",
            ["lead", "outsider"],
            "'lead' may not delegate to 'outsider' (its delegates_to: commander, helper, middle)",
        ),
        (
            DELEGATING,
            ["middle", "lead"],
            "loop",
            ["lead", "middle", "lead"],
            "delegation loop: 'lead' is already in the chain lead -> middle -> lead",
        ),
        (
            SHALLOW,
            ["middle", "deep", "deeper"],
            "depth",
            ["lead", "middle", "deep", "deeper"],
            "chain lead -> middle -> deep -> deeper has 3 delegations; max_delegation_depth is 2",
        ),
        (
            DELEGATING,
            ["helpr"],
            "unknown_agent",
            ["lead", "helpr"],
            "unknown agent 'helpr'; did you mean 'helper'?",
        ),
    ],
    ids=["acl", "loop", "depth", "unknown"],
)
def test_a_refused_delegation_fails_the_step_with_acl_denied_and_is_not_retried(
    tmp_path: Path,
    workflow: Any,
    chain: list[str],
    reason: str,
    denied_chain: list[str],
    message: str,
) -> None:
    state = run_here(tmp_path / "baton.db", workflow, {"topic": "t", "chain": chain}, "no").state
    record = state.steps["main"]
    assert state.status == "failed"
    assert record.state.value == "failed"
    assert record.attempts == 1  # retry.on has every class but acl_denied: never retried
    assert record.error is not None and record.error["failure"] == "acl_denied"
    assert message in str(record.error["message"])
    assert state.error is not None and state.error["failure"] == "acl_denied"
    from baton.runtime import api

    log = api.get_events(tmp_path / "baton.db", "no")
    [denied] = _of(log, "delegation_denied")
    assert denied["data"]["reason"] == reason
    assert denied["data"]["chain"] == denied_chain
    assert message in denied["data"]["message"]
    assert _of(log, "delegation_requested")[-1]["data"]["chain"] == denied_chain
    called = [c["agent"] for c in ledger(tmp_path)]
    assert "outsider" not in called and "deeper" not in called and "helpr" not in called


def test_the_delegates_output_is_validated_against_the_handoff(tmp_path: Path) -> None:
    inputs = {"topic": "t", "chain": ["helper"], "output": "strict@1"}
    state = run_here(tmp_path / "baton.db", DELEGATING, inputs, "bad-out").state
    record = state.steps["main"]
    assert state.status == "failed"
    assert record.error is not None and record.error["failure"] == "malformed_output"
    assert "does not match strict@1" in str(record.error["message"])
    assert record.attempts == 3  # malformed_output is retried; each try delegates again
    from baton.runtime import api

    log = api.get_events(tmp_path / "baton.db", "bad-out")
    failed = _of(log, "delegation_failed")
    assert [e["data"]["failure"] for e in failed] == ["malformed_output"] * 3
    assert failed[0]["data"]["errors"][0]["pointer"] == ""
    assert not _of(log, "delegation_completed")
    assert [c["agent"] for c in ledger(tmp_path)] == ["helper"] * 3


def test_catching_the_refusal_does_not_save_the_step(tmp_path: Path) -> None:
    inputs = {"topic": "t", "chain": ["outsider"], "catch": True}
    state = run_here(tmp_path / "baton.db", DELEGATING, inputs, "caught").state
    record = state.steps["main"]
    assert record.error is not None and record.error["failure"] == "acl_denied"
    assert record.output is None and state.status == "failed"


def test_a_resumed_run_does_not_repeat_a_delegation(tmp_path: Path) -> None:
    """The relay delegates to the builtin `helper` (which appends to the ledger), then
    SIGKILLs its own process before it answers; `baton resume` runs the relay again,
    and its delegation gets the stored output: the helper was called once."""
    crash = {
        "TRUST_CRASH_MARKER": str(tmp_path / "crashed"),
        "TRUST_RELAY_CALLS": str(tmp_path / "calls"),
    }
    first = baton(
        tmp_path,
        "run",
        "trust_flows:DELEGATING",
        "--run-id",
        "crash-1",
        "--input",
        '{"topic": "tea", "chain": ["helper"]}',
        extra_env=crash,
    )
    assert first.returncode == -9, first.stdout + first.stderr  # killed mid-attempt
    assert (tmp_path / "crashed").exists()
    calls = ledger(tmp_path)
    assert [c["agent"] for c in calls] == ["helper"]
    resumed = baton(tmp_path, "resume", "crash-1", extra_env=crash)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert ledger(tmp_path) == calls  # the delegate was not called again
    assert (tmp_path / "calls").read_text() == "main#1\n"  # the relay finished once
    log = events(tmp_path, "crash-1")
    requested = _of(log, "delegation_requested")
    assert [e["data"]["reused"] for e in requested] == [False, True]
    assert requested[0]["data"]["idempotency_key"] == requested[1]["data"]["idempotency_key"]
    assert requested[0]["data"]["idempotency_key"] == calls[0]["idempotency_key"]
    assert len(_of(log, "delegation_completed")) == 1
    state = shown(tmp_path, "crash-1")
    assert state["status"] == "succeeded"
    assert state["steps"]["main"]["output"] == {"text": "lead relayed: tea"}
    assert state["steps"]["main"]["restarts"] == 1


def test_a_command_agent_delegates_over_http(tmp_path: Path) -> None:
    inputs = {"topic": "tea", "chain": ["helper"]}
    state = run_here(tmp_path / "baton.db", COMMANDING, inputs, "cmd-ok").state
    assert state.status == "succeeded", state.error
    assert state.steps["main"].output == {"text": "delegated: tea"}
    assert state.steps["main"].usage.tokens_in == 10
    assert [c["agent"] for c in ledger(tmp_path)] == ["helper"]


def test_a_command_agent_refused_over_http_fails_with_acl_denied(tmp_path: Path) -> None:
    inputs = {"topic": "tea", "chain": ["outsider"], "catch": True}  # it answers anyway
    result = baton(
        tmp_path,
        "run",
        "trust_flows:COMMANDING",
        "--run-id",
        "cmd-no",
        "--input",
        '{"topic": "tea", "chain": ["outsider"], "catch": true}',
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "delegation denied: 'commander' may not delegate to 'outsider'" in result.stdout
    state = shown(tmp_path, "cmd-no")
    assert state["steps"]["main"]["error"]["failure"] == "acl_denied"
    assert state["steps"]["main"]["attempts"] == 1
    [denied] = _of(events(tmp_path, "cmd-no"), "delegation_denied")
    assert denied["data"]["chain"] == ["commander", "outsider"]
    assert inputs["chain"] == ["outsider"]


def test_delegate_outside_a_run_says_so() -> None:
    request: Request[dict[str, Any]] = Request("w", "r", "s", 1, "k", {}, None, ("a",))
    with pytest.raises(RuntimeError, match="no delegation context"):
        request.delegate("b", {}, output="note@1")
