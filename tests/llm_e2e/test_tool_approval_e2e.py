"""Approving one tool call (runtime.core.tool_approvals) end to end: real `baton`
processes, a scripted model behind the fake provider server, and the real MCP ledger
server (tool_servers/ledger_server.py) whose ledger file counts the calls made.

The ledger tool of `tool_flows:APPROVED` needs role manager (alice) for every call."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fake_providers import FakeProvider, messages_of, model_answer, tool_calls_reply
from llm_support import baton, events, shown

from baton.runtime.canonical import checksum
from baton.runtime.core.apply import fold
from baton.runtime.store import Store

GOOD = {"summary": "Tides follow the moon.", "confidence": 0.8}
INPUT = json.dumps({"topic": "tides"})
ASK = tool_calls_reply("openai", ("call_1", "ledger__record", {"note": "pay 10 EUR"}))
ANSWER = model_answer("openai", GOOD)


def _run(tmp: Path, fake: FakeProvider, **kw: Any) -> Any:
    return baton(
        tmp,
        fake,
        "run",
        "tool_flows:APPROVED",
        "--input",
        INPUT,
        "--run-id",
        "r1",
        "--detach",
        **kw,
    )


def _ledger(tmp: Path) -> list[dict[str, Any]]:
    path = tmp / "ledger.txt"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def _of(log: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in log if e["type"] == kind]


def _fold_is_stored(tmp: Path) -> None:
    """The fold of the stored log is the stored state (the new events included)."""
    with Store(tmp / "baton.db") as store:
        log = store.load_events("r1")
        stored = store.load_state("r1")
    assert stored is not None
    assert fold(log).to_json() == stored.to_json()


def _waiting(tmp: Path, fake: FakeProvider) -> dict[str, Any]:
    """Start the run: it stops at the ledger call, waiting; the request's fields."""
    fake.script(ASK)
    result = _run(tmp, fake)
    assert result.returncode == 3, result.stderr  # detached: waiting for a decision
    [asked] = _of(events(tmp, "r1"), "tool_approval_requested")
    return asked


def test_a_call_waits_then_an_approval_by_the_role_makes_it_exactly_once(
    tmp_path: Path, fake: FakeProvider
) -> None:
    asked = _waiting(tmp_path, fake)
    assert (asked["name"], asked["arguments"]) == ("ledger__record", {"note": "pay 10 EUR"})
    assert asked["role"] == "manager" and asked["principals"] == ["alice"]
    subject = {
        "tool": "ledger",
        "name": "ledger__record",
        "arguments": {"note": "pay 10 EUR"},
        "step": "research",
        "attempt": 1,
        "key": asked["key"],
    }
    assert asked["sha256"] == checksum(subject)
    assert _ledger(tmp_path) == []  # nothing called yet
    state = shown(tmp_path, "r1")
    assert state["status"] == "waiting"
    assert state["steps"]["research"]["state"] == "awaiting_approval"
    status = baton(tmp_path, None, "status", "r1").stdout
    assert "tool call ledger__record needs role 'manager'" in status
    # `baton approvals` shows the exact call, with the sha256 a decision binds to
    listed = baton(tmp_path, None, "approvals", "--json")
    assert listed.returncode == 0, listed.stderr
    [pending] = json.loads(listed.stdout)
    assert pending["stage"] == "tool" and pending["subject"] == "tool_call"
    assert pending["value"] == subject and pending["shown_sha256"] == asked["sha256"]
    text = baton(tmp_path, None, "approvals").stdout
    assert "tool call its agent asks for" in text and "pay 10 EUR" in text
    # a principal without the role is refused; nothing recorded
    refused = baton(tmp_path, None, "approve", "r1", "research", "--as", "bob")
    assert refused.returncode == 2 and "needs role 'manager'" in refused.stderr
    approved = baton(tmp_path, None, "approve", "r1", "research", "--as", "alice")
    assert approved.returncode == 0, approved.stderr
    assert asked["sha256"] in approved.stdout
    fake.script(ASK, ANSWER)  # the attempt runs again: the model asks the same call
    resumed = baton(tmp_path, fake, "resume", "r1")
    assert resumed.returncode == 0, resumed.stderr
    [entry] = _ledger(tmp_path)  # made once, with the call's idempotency key
    log = events(tmp_path, "r1")
    started = _of(log, "attempt_started")
    assert [(s["restart"], s["idempotency_key"]) for s in started] == [
        (False, started[0]["idempotency_key"]),
        (True, started[0]["idempotency_key"]),
    ]
    assert [e["attempt"] for e in log if e["type"] == "attempt_started"] == [1, 1]
    [call] = _of(log, "tool_call_started")
    assert call["key"] == asked["key"] == entry["key"]
    [granted] = _of(log, "approval_granted")
    assert granted["stage"] == "tool" and granted["shown_sha256"] == asked["sha256"]
    state = shown(tmp_path, "r1")
    assert state["status"] == "succeeded"
    assert state["steps"]["research"]["output"] == GOOD
    assert state["steps"]["research"]["attempts"] == 1
    _fold_is_stored(tmp_path)


def test_a_rejected_call_is_never_made_and_the_model_is_told(
    tmp_path: Path, fake: FakeProvider
) -> None:
    _waiting(tmp_path, fake)
    rejected = baton(
        tmp_path, None, "reject", "r1", "research", "--as", "alice", "--comment", "too much"
    )
    assert rejected.returncode == 0, rejected.stderr
    fake.script(ASK, ANSWER)
    resumed = baton(tmp_path, fake, "resume", "r1")
    assert resumed.returncode == 0, resumed.stderr
    assert _ledger(tmp_path) == []
    told = messages_of("openai", fake.received[-1])[-1]
    assert told["role"] == "tool" and "rejected by alice: too much" in told["content"]
    log = events(tmp_path, "r1")
    assert not _of(log, "tool_call_started")
    [failed] = _of(log, "tool_call_failed")
    assert failed["failure"] == "rejected"
    assert shown(tmp_path, "r1")["steps"]["research"]["output"] == GOOD
    _fold_is_stored(tmp_path)


def test_another_call_after_a_grant_voids_it_and_asks_again(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """The grant is bound to the call's arguments: a re-run model that asks for another
    call does not get it made; the grant is void and a person is asked again."""
    first = _waiting(tmp_path, fake)
    assert baton(tmp_path, None, "approve", "r1", "research", "--as", "alice").returncode == 0
    other = tool_calls_reply("openai", ("call_1", "ledger__record", {"note": "pay 99 EUR"}))
    fake.script(other)
    resumed = baton(tmp_path, fake, "resume", "r1", "--detach")
    assert resumed.returncode == 3, resumed.stderr
    assert _ledger(tmp_path) == []
    log = events(tmp_path, "r1")
    [voided] = _of(log, "approval_voided")
    second = _of(log, "tool_approval_requested")[-1]
    assert voided["stage"] == "tool" and voided["shown_sha256"] == first["sha256"]
    assert voided["current_sha256"] == second["sha256"] != first["sha256"]
    assert second["arguments"] == {"note": "pay 99 EUR"}
    assert shown(tmp_path, "r1")["steps"]["research"]["approval"]["voided"] == 1
    _fold_is_stored(tmp_path)


def test_sigkill_right_after_the_request_then_resume_still_waits(
    tmp_path: Path, fake: FakeProvider
) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    _waiting(reference, fake)
    kinds = [e["type"] for e in events(reference, "r1")]
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    fake.script(ASK)
    kill = {"BATON_TEST_KILL_AFTER_EVENT": str(kinds.index("tool_approval_requested") + 1)}
    killed = _run(crashed, fake, extra_env=kill)
    assert killed.returncode == -9, killed.stderr
    assert fake.unused == 0
    asked = len(fake.received)
    resumed = baton(crashed, fake, "resume", "r1", "--detach")
    assert resumed.returncode == 3, resumed.stderr  # still waiting: nobody decided
    assert len(fake.received) == asked  # the model was not asked again
    assert _ledger(crashed) == []
    assert len(_of(events(crashed, "r1"), "tool_approval_requested")) == 1
    assert shown(crashed, "r1")["steps"]["research"]["state"] == "awaiting_approval"


def test_sigkill_after_the_approved_call_completed_then_resume_makes_it_no_more(
    tmp_path: Path, fake: FakeProvider
) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    _waiting(reference, fake)
    baton(reference, None, "approve", "r1", "research", "--as", "alice")
    fake.script(ASK, ANSWER)
    assert baton(reference, fake, "resume", "r1").returncode == 0
    kinds = [e["type"] for e in events(reference, "r1")]
    kill_after = kinds.index("tool_call_completed") + 1

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    _waiting(crashed, fake)
    baton(crashed, None, "approve", "r1", "research", "--as", "alice")
    fake.script(ASK)
    killed = baton(
        crashed,
        fake,
        "resume",
        "r1",
        extra_env={"BATON_TEST_KILL_AFTER_EVENT": str(kill_after)},
    )
    assert killed.returncode == -9, killed.stderr
    assert len(_ledger(crashed)) == 1
    fake.script(ASK, ANSWER)
    resumed = baton(crashed, fake, "resume", "r1")
    assert resumed.returncode == 0, resumed.stderr
    [entry] = _ledger(crashed)  # zero more calls: its recorded result went back
    started = _of(events(crashed, "r1"), "tool_call_started")
    assert [s["reused"] for s in started] == [False, True]
    assert entry["key"] == started[0]["key"]
    assert shown(crashed, "r1")["steps"]["research"]["output"] == GOOD
    _fold_is_stored(crashed)


def test_the_console_inbox_shows_the_exact_call_escaped(tmp_path: Path, fake: FakeProvider) -> None:
    """`baton serve`: the inbox names the tool and shows the call's arguments, escaped
    (a model wrote them: untrusted), with the sha256 a decision binds to."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "console"))
    from console_support import XSS, add_principal, start_server

    fake.script(tool_calls_reply("openai", ("call_1", "ledger__record", {"note": XSS})))
    assert _run(tmp_path, fake).returncode == 3
    [asked] = _of(events(tmp_path, "r1"), "tool_approval_requested")
    server = start_server(tmp_path)
    try:
        server.tokens = {"alice": add_principal(tmp_path, "alice")}
        [pending] = server.api("GET", "/api/approvals").json()["approvals"]
        assert pending["stage"] == "tool" and pending["value"]["arguments"] == {"note": XSS}
        cookie, _ = server.login("alice")
        inbox = server.request("GET", "/approvals", headers={"Cookie": cookie}).body
    finally:
        server.stop()
    assert "asks to call tool <code>ledger</code>" in inbox and "ledger__record" in inbox
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in inbox
    assert "<script>window" not in inbox and "<img src=x" not in inbox
    assert asked["sha256"] in inbox
