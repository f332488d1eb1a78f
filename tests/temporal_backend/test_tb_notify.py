"""Notifications on Temporal, on the real dev server: each is a `baton_notify` activity
retried by Temporal (a 500, then a 200: one key, two POSTs), recorded in the run's log
as on the local backend; a missing variable fails for good with a clear message and the
run is unaffected; the history replays."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from tb_support import replay_failures, worker_in_thread
from temporalio.client import Client

from baton.commands._load import load_spec
from baton.runtime.notify import notification_key
from baton.runtime.notify.signing import verify
from baton.runtime.temporal import client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "runtime_core"))
from webhook_receiver import receiver

SECRET = "tb-signing-secret-0042"
SPEC = """baton: 1
name: tb_notified
owner: lead
agents:
  lead: {run: {builtin: echo}}
approvers:
  manager: [alice]
notify:
  - url_env: TB_HOOK_URL
    events: [approval_requested, run_succeeded]
    format: json
    secret_env: TB_HOOK_SECRET
    timeout: 2s
    max_attempts: 3
  - url_env: TB_HOOK_UNSET
    events: [run_succeeded]
console_url: http://127.0.0.1:8700
inputs: {type: object, additionalProperties: false, properties: {topic: {type: string}}}
handoffs:
  note:
    versions:
      1:
        type: object
        required: [topic]
        additionalProperties: false
        properties: {topic: {type: string}}
steps:
  gate:
    agent: lead
    approval: {role: manager}
    output: note@1
    input: {topic: "{{ inputs.topic }}"}
"""


def test_notifications_are_activities_retried_by_temporal(
    tmp_path: Path, temporal_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "wf.yaml").write_text(SPEC)
    loaded = load_spec(str(tmp_path / "wf.yaml"))
    run_id = f"tbn-{uuid.uuid4().hex[:8]}"
    queue = f"tbn-{uuid.uuid4().hex[:12]}"
    monkeypatch.delenv("TB_HOOK_UNSET", raising=False)
    with receiver(script=[500]) as hook:
        # the worker's environment: it runs in this process
        monkeypatch.setenv("TB_HOOK_URL", hook.url + "/hook")
        monkeypatch.setenv("TB_HOOK_SECRET", SECRET)
        with worker_in_thread(temporal_server, queue, [loaded]) as target:

            async def scenario(connection: Client) -> tuple[list[dict[str, Any]], Any]:
                handle = await client.start(connection, target, loaded, {"topic": "tea"}, run_id)
                _, waiting = await client.watch(connection, run_id, detach=True, poll_s=0.05)
                assert waiting
                await client.approve(connection, run_id, "gate", "alice")
                final, _ = await client.watch(connection, run_id, poll_s=0.05)
                assert final.status == "succeeded"
                # the workflow completes once its notifications did: its result is the log
                log = await handle.result()
                history = await handle.fetch_history()
                return log, history

            log, history = client.blocking(client.with_client(target, scenario))
        received = list(hook.received)
    seqs = {e["type"]: e["seq"] for e in log}
    asked = notification_key(run_id, seqs["approval_requested"], 1)
    ended = notification_key(run_id, seqs["run_succeeded"], 1)
    # the 500 retried by Temporal under the same key (the end may come in between)
    tries = [(r.headers["Idempotency-Key"], r.headers["X-Baton-Delivery"]) for r in received]
    assert sorted(tries) == sorted([(asked, "1"), (asked, "2"), (ended, "1")])
    assert tries[0] == (asked, "1")
    for request in received:
        assert verify(
            SECRET,
            request.body,
            request.headers["X-Baton-Timestamp"],
            request.headers["X-Baton-Signature"],
            now_s=int(time.time()),
        )
    body = json.loads(received[0].body)
    assert (body["event"], body["step"], body["role"]) == ("approval_requested", "gate", "manager")
    assert body["link"] == f"http://127.0.0.1:8700/runs/{run_id}"
    sent = [e["data"] for e in log if e["type"] == "notification_sent"]
    assert sorted((d["notification"], d["attempts"], d["status"]) for d in sent) == sorted(
        [(asked, 2, 200), (ended, 1, 200)]
    )
    [failed] = [e["data"] for e in log if e["type"] == "notification_failed"]
    assert failed["notification"] == notification_key(run_id, seqs["run_succeeded"], 2)
    assert failed["message"] == "environment variable TB_HOOK_UNSET is not set"
    assert failed["final"] is True and failed["attempts"] == 1
    # the run's own events come first: its end did not wait for a webhook
    assert seqs["run_succeeded"] < min(
        e["seq"]
        for e in log
        if e["type"].startswith("notification_") and e["data"]["trigger"] == "run_succeeded"
    )
    text = json.dumps(log)
    assert hook.url not in text and SECRET not in text
    assert replay_failures([history]) == []
