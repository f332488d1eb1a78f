"""Notifications on the local backend: real `baton` processes, a real SQLite file, a real
webhook receiver on 127.0.0.1 (`webhook_receiver`).

- each notification is one Idempotency-Key (run id, the event's seq, the sink), the same
  on every retry and after a crash; HMAC-signed when the sink has a secret;
- a 500 is retried with backoff; a receiver that never answers, or a missing variable,
  is a `notification_failed`, and the run is not slowed or failed by it;
- SIGKILL after the triggering event, and after `notification_sent`: once resumed, the
  receiver has each key (a duplicate POST would carry the same key);
- the URL and the secret appear nowhere: database, events, output;
- agent text cannot put mentions or markup in slack/discord messages.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from rc_support import baton, rows, shown
from webhook_receiver import Receiver, receiver

from baton.runtime.core.apply import fold
from baton.runtime.notify import notification_key
from baton.runtime.notify.signing import verify
from baton.runtime.store import Store

RUN = "nt"
SECRET = "T0PSECRET-signing-key-4242"
HOOK_PATH = "/services/T000/B000/XXXXURLSECRET"

APPROVAL_STEPS = """
  first:
    agent: lead
    output: note@1
    input: {topic: "{{ inputs.topic }}"}
  gate:
    agent: lead
    needs: [first]
    approval: {role: manager}
    output: note@1
    input: {topic: "{{ inputs.topic }}"}
"""
QUICK_STEPS = """
  first:
    agent: lead
    output: note@1
    input: {topic: "{{ inputs.topic }}"}
"""
FAILING_STEPS = """
  first:
    agent: breaker
    output: note@1
    input: {message: "{{ inputs.topic }}"}
"""


def _spec(tmp: Path, steps: str, sinks: str) -> str:
    (tmp / "wf.yaml").write_text(
        f"""baton: 1
name: notified
owner: lead
agents:
  lead: {{run: {{builtin: echo}}, delegates_to: [breaker]}}
  breaker: {{run: {{builtin: fail}}, delegates_to: []}}
approvers:
  manager: [alice]
notify:
{sinks}
console_url: http://127.0.0.1:8700
inputs:
  type: object
  required: [topic]
  additionalProperties: false
  properties:
    topic: {{type: string}}
handoffs:
  note:
    versions:
      1:
        type: object
        required: [topic]
        additionalProperties: false
        properties:
          topic: {{type: string}}
steps:
{steps}"""
    )
    return "wf.yaml"


def _sink(events: str, fmt: str = "json", secret: bool = True, extra: str = "") -> str:
    text = f"""  - url_env: TEST_HOOK_URL
    events: [{events}]
    format: {fmt}
    timeout: 1s
    max_attempts: 3
"""
    if secret:
        text += "    secret_env: TEST_HOOK_SECRET\n"
    return text + extra


def _env(hook: Receiver, path: str = HOOK_PATH) -> dict[str, str]:
    return {"TEST_HOOK_URL": hook.url + path, "TEST_HOOK_SECRET": SECRET}


def _run(tmp: Path, spec: str, env: dict[str, str], *more: str, topic: str = "tea") -> Any:
    inputs = json.dumps({"topic": topic})
    return baton(tmp, "run", spec, "--input", inputs, "--run-id", RUN, *more, extra_env=env)


def _events(tmp: Path) -> list[dict[str, Any]]:
    result = baton(tmp, "events", RUN, "--json")
    assert result.returncode == 0, result.stderr
    events: list[dict[str, Any]] = json.loads(result.stdout)
    return events


def _of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def _key(events: list[dict[str, Any]], trigger: str, sink: int = 1) -> str:
    [event] = _of(events, trigger)
    return notification_key(RUN, event["seq"], sink)


def _folds_to_stored(tmp: Path) -> None:
    with Store(tmp / "baton.db") as store:
        assert fold(store.load_events(RUN)).to_json() == store.load_state(RUN).to_json()


def test_an_approval_and_the_end_are_notified_once_each_signed(tmp_path: Path) -> None:
    spec = _spec(tmp_path, APPROVAL_STEPS, _sink("approval_requested, run_succeeded"))
    with receiver() as hook:
        env = _env(hook)
        waiting = _run(tmp_path, spec, env, "--detach")
        assert waiting.returncode == 3, (waiting.stdout, waiting.stderr)
        # delivered before `baton run --detach` returned
        events = _events(tmp_path)
        asked = _key(events, "approval_requested")
        assert hook.keys() == [asked]
        [sent] = _of(events, "notification_sent")
        assert sent["data"] == {
            "notification": asked,
            "trigger": "approval_requested",
            "trigger_seq": _of(events, "approval_requested")[0]["seq"],
            "sink": 1,
            "attempts": 1,
            "status": 200,
        }
        request = hook.received[0]
        assert request.path == HOOK_PATH
        assert request.headers["X-Baton-Event"] == "approval_requested"
        assert verify(
            SECRET,
            request.body,
            request.headers["X-Baton-Timestamp"],
            request.headers["X-Baton-Signature"],
            now_s=int(time.time()),
        )
        assert not verify(
            "wrong",
            request.body,
            request.headers["X-Baton-Timestamp"],
            request.headers["X-Baton-Signature"],
            now_s=int(time.time()),
        )
        body = request.json()
        assert body["event"] == "approval_requested" and body["run_id"] == RUN
        assert body["workflow"] == "notified" and body["step"] == "gate"
        assert body["role"] == "manager" and body["idempotency_key"] == asked
        assert body["link"] == f"http://127.0.0.1:8700/runs/{RUN}"

        assert baton(tmp_path, "approve", RUN, "gate", "--as", "alice").returncode == 0
        done = baton(tmp_path, "resume", RUN, extra_env=env)
        assert done.returncode == 0, (done.stdout, done.stderr)
        events = _events(tmp_path)
        ended = _key(events, "run_succeeded")
        assert hook.keys() == [asked, ended]
        assert hook.received[1].json()["event"] == "run_succeeded"
        assert len(_of(events, "notification_sent")) == 2
        assert "notification for run_succeeded sent" in done.stdout
    assert shown(tmp_path, RUN)["status"] == "succeeded"
    _folds_to_stored(tmp_path)


def test_a_500_is_retried_with_the_same_key(tmp_path: Path) -> None:
    spec = _spec(tmp_path, QUICK_STEPS, _sink("run_succeeded"))
    with receiver(script=[500]) as hook:
        result = _run(tmp_path, spec, _env(hook))
        assert result.returncode == 0, (result.stdout, result.stderr)
        events = _events(tmp_path)
        key = _key(events, "run_succeeded")
        assert hook.keys() == [key, key]
        assert [r.headers["X-Baton-Delivery"] for r in hook.received] == ["1", "2"]
    [failed] = _of(events, "notification_failed")
    assert failed["data"]["status"] == 500 and failed["data"]["attempts"] == 1
    assert failed["data"]["final"] is False and failed["data"]["retry_at_ms"] > failed["ts"]
    assert failed["data"]["message"] == "HTTP 500"
    [sent] = _of(events, "notification_sent")
    assert sent["data"]["attempts"] == 2 and sent["data"]["status"] == 200
    _folds_to_stored(tmp_path)


def test_a_webhook_that_never_answers_neither_slows_nor_fails_the_run(tmp_path: Path) -> None:
    """The run's own events all come before any delivery outcome: the loop never waited
    for the webhook; the notification fails for good after its attempts."""
    spec = _spec(
        tmp_path,
        APPROVAL_STEPS,
        _sink("approval_requested, run_succeeded").replace("max_attempts: 3", "max_attempts: 2"),
    )
    with receiver(hang=True) as hook:
        env = _env(hook)
        waiting = _run(tmp_path, spec, env, "--detach")
        assert waiting.returncode == 3, (waiting.stdout, waiting.stderr)
        assert baton(tmp_path, "approve", RUN, "gate", "--as", "alice").returncode == 0
        done = baton(tmp_path, "resume", RUN, extra_env=env)
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert len(hook.received) == 4  # two notifications, two tries each
    events = _events(tmp_path)
    assert shown(tmp_path, RUN)["status"] == "succeeded"
    failures = _of(events, "notification_failed")
    assert [
        (f["data"]["trigger"], f["data"]["attempts"], f["data"]["final"]) for f in failures
    ] == [
        ("approval_requested", 1, False),
        ("approval_requested", 2, True),
        ("run_succeeded", 1, False),
        ("run_succeeded", 2, True),
    ]
    assert {f["data"]["message"] for f in failures} == {"no answer within 1000 ms"}
    assert not _of(events, "notification_sent")
    # every step event of the run precedes the first notification outcome of its phase
    seq = {e["type"]: e["seq"] for e in events}
    first_failure = failures[0]["seq"]
    assert seq["approval_requested"] < first_failure
    committed = [e["seq"] for e in _of(events, "step_committed")]
    assert max(committed) < seq["run_succeeded"] < failures[2]["seq"]
    _folds_to_stored(tmp_path)


def test_a_missing_variable_is_a_clear_failure_and_the_run_goes_on(tmp_path: Path) -> None:
    spec = _spec(tmp_path, QUICK_STEPS, _sink("run_succeeded"))
    result = _run(tmp_path, spec, {"TEST_HOOK_SECRET": SECRET})
    assert result.returncode == 0, (result.stdout, result.stderr)
    events = _events(tmp_path)
    [failed] = _of(events, "notification_failed")
    assert failed["data"]["message"] == "environment variable TEST_HOOK_URL is not set"
    assert failed["data"]["final"] is True and failed["data"]["attempts"] == 1
    assert shown(tmp_path, RUN)["status"] == "succeeded"
    # and a missing secret: never sent unsigned
    with receiver() as hook:
        second = tmp_path / "second"
        second.mkdir()
        spec = _spec(second, QUICK_STEPS, _sink("run_succeeded"))
        result = _run(second, spec, {"TEST_HOOK_URL": hook.url + HOOK_PATH})
        assert result.returncode == 0, (result.stdout, result.stderr)
        assert hook.received == []
    [failed] = _of(json.loads(baton(second, "events", RUN, "--json").stdout), "notification_failed")
    assert "TEST_HOOK_SECRET" in failed["data"]["message"] and failed["data"]["final"] is True


def test_the_url_and_the_secret_appear_nowhere(tmp_path: Path) -> None:
    spec = _spec(tmp_path, FAILING_STEPS, _sink("run_failed", "slack"))
    with receiver(script=[500, 404]) as hook:
        env = _env(hook)
        outputs = []
        result = _run(tmp_path, spec, env, "--log-json")
        outputs += [result.stdout, result.stderr]
        assert result.returncode == 1
        assert len(hook.received) == 3  # 500, 404, then 200
        for args in (
            ("events", RUN),
            ("events", RUN, "--json"),
            ("show", RUN, "--json"),
            ("trace", RUN),
            ("resume", RUN),
        ):
            shown_out = baton(tmp_path, *args, extra_env=env)
            outputs += [shown_out.stdout, shown_out.stderr]
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("baton.db*"))
    assert stored  # the database and its WAL
    for secret in (HOOK_PATH, "XXXXURLSECRET", SECRET, hook.url):
        assert secret.encode() not in stored, secret
        for text in outputs:
            assert secret not in text, (secret, text)
    statuses = [e["data"]["status"] for e in _events(tmp_path) if e["type"].startswith("notif")]
    assert statuses == [500, 404, 200]


def test_agent_text_cannot_mention_or_mark_up(tmp_path: Path) -> None:
    hostile = (
        "<!channel> @everyone @here <@U123|x> <https://evil.example|click> **bold** & " + "z" * 900
    )
    sinks = (
        _sink("run_failed", "slack", secret=False)
        + """  - url_env: TEST_HOOK_URL_2
    events: [run_failed]
    format: discord
"""
    )
    spec = _spec(tmp_path, FAILING_STEPS, sinks)
    with receiver() as hook:
        env = {"TEST_HOOK_URL": hook.url + "/slack", "TEST_HOOK_URL_2": hook.url + "/discord"}
        result = _run(tmp_path, spec, env, topic=hostile)
        assert result.returncode == 1, (result.stdout, result.stderr)
        by_path = {r.path: r for r in hook.received}
    slack, discord = by_path["/slack"], by_path["/discord"]
    assert slack.key != discord.key  # one key per sink
    message = slack.json()
    for text in (message["text"], message["blocks"][0]["text"]["text"]):
        assert "<!channel>" not in text and "<@U123" not in text and "<https://evil" not in text
        assert "&lt;!channel&gt;" in text and "@\u200beveryone" in text and "@\u200bhere" in text
        assert "&amp;" in text
    assert (
        message["blocks"][1]["elements"][0]["text"]
        == f"<http://127.0.0.1:8700/runs/{RUN}|Open the run>"
    )
    assert len(slack.body) < 1500  # short: no output, no 900-character message
    answer = discord.json()
    assert answer["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in answer["content"] and "<@U123" not in answer["content"]
    assert "\\*\\*bold\\*\\*" in answer["content"]
    assert answer["embeds"][0]["url"] == f"http://127.0.0.1:8700/runs/{RUN}"
    assert len(discord.body) < 1500


@pytest.mark.parametrize("kill_at", ["approval_requested", "notification_sent"])
def test_sigkill_around_delivery_then_resume_delivers_each_key(
    tmp_path: Path, kill_at: str
) -> None:
    """Killed right after the event that triggers a notification is durable (nothing
    sent yet), or right after its `notification_sent`: once resumed, the receiver has
    had the key (exactly once here; a redelivery would repeat the same key)."""
    reference = tmp_path / "reference"
    reference.mkdir()
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    sinks = _sink("approval_requested, run_succeeded")
    with receiver() as hook:
        spec = _spec(reference, APPROVAL_STEPS, sinks)
        assert _run(reference, spec, _env(hook), "--detach").returncode == 3
        seqs = {
            e["type"]: e["seq"]
            for e in reversed(json.loads(baton(reference, "events", RUN, "--json").stdout))
        }
    kill_after = seqs[kill_at]
    with receiver() as hook:
        env = _env(hook)
        spec = _spec(crashed, APPROVAL_STEPS, sinks)
        died = _run(
            crashed, spec, {**env, "BATON_TEST_KILL_AFTER_EVENT": str(kill_after)}, "--detach"
        )
        assert died.returncode == -9, (died.stdout, died.stderr)
        durable = rows(
            crashed / "baton.db", "SELECT type FROM events WHERE run_id = ? ORDER BY seq", RUN
        )
        assert durable[-1] == (kill_at,)
        delivered_before = hook.keys()
        assert len(delivered_before) == (0 if kill_at == "approval_requested" else 1)
        again = baton(crashed, "resume", RUN, "--detach", extra_env=env)
        assert again.returncode == 3, (again.stdout, again.stderr)
        assert baton(crashed, "approve", RUN, "gate", "--as", "alice").returncode == 0
        done = baton(crashed, "resume", RUN, extra_env=env)
        assert done.returncode == 0, (done.stdout, done.stderr)
        events = json.loads(baton(crashed, "events", RUN, "--json").stdout)
        asked, ended = _key(events, "approval_requested"), _key(events, "run_succeeded")
        assert hook.keys() == [asked, ended]
    assert [e["data"]["notification"] for e in _of(events, "notification_sent")] == [asked, ended]
    _folds_to_stored(crashed)


def test_sigkill_after_the_end_then_resume_of_the_ended_run_delivers(tmp_path: Path) -> None:
    """The run ended (durably) and the process died before telling anyone: `baton
    resume` of the ended run delivers what its log still owes, and nothing else."""
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    reference.mkdir()
    crashed.mkdir()
    spec = _spec(reference, QUICK_STEPS, _sink("run_succeeded"))
    _spec(crashed, QUICK_STEPS, _sink("run_succeeded"))
    assert _run(reference, spec, {}).returncode == 0
    ended_seq = next(
        e["seq"]
        for e in json.loads(baton(reference, "events", RUN, "--json").stdout)
        if e["type"] == "run_succeeded"
    )
    with receiver() as hook:
        env = _env(hook)
        died = _run(crashed, spec, {**env, "BATON_TEST_KILL_AFTER_EVENT": str(ended_seq)})
        assert died.returncode == -9, (died.stdout, died.stderr)
        assert shown(crashed, RUN)["status"] == "succeeded" and hook.keys() == []
        again = baton(crashed, "resume", RUN, extra_env=env)
        assert again.returncode == 0, (again.stdout, again.stderr)
        events = _events(crashed)
        assert hook.keys() == [_key(events, "run_succeeded")]
        # nothing more is owed: another resume sends nothing
        assert baton(crashed, "resume", RUN, extra_env=env).returncode == 0
        assert len(hook.keys()) == 1
    _folds_to_stored(crashed)
