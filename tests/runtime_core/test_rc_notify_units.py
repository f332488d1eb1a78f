"""The pure parts of notifications: the outbox fold, the messages, one POST's outcome
(against real sockets on 127.0.0.1), without a run."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from webhook_receiver import receiver

from baton.runtime.core import events as ev
from baton.runtime.model import NOTIFY_EVENTS, NotifyFormat, NotifySink
from baton.runtime.notify.messages import body, summary
from baton.runtime.notify.outbox import Notification, Outbox, notification_key
from baton.runtime.notify.post import deliver

SINKS = (
    NotifySink("A_HOOK", events=("run_failed", "approval_requested")),
    NotifySink("B_HOOK", events=("run_failed",), format=NotifyFormat.SLACK),
)


def _event(seq: int, body_: ev.EventBody) -> ev.Event:
    return ev.Event(seq, "r1", 1000 + seq, "t", body_)


def test_the_outbox_opens_one_per_subscribed_sink_and_closes_on_outcomes() -> None:
    outbox = Outbox("wf", SINKS)
    opened = outbox.observe(_event(3, ev.RunFailed(step="s", failure="agent_error", message="m")))
    assert [(n.sink, n.key) for n in opened] == [
        (1, notification_key("r1", 3, 1)),
        (2, notification_key("r1", 3, 2)),
    ]
    assert opened[0].context == {"step": "s", "failure": "agent_error", "message": "m"}
    assert outbox.observe(_event(4, ev.ApprovalRequested(step="g", role="r", stage="before")))
    assert outbox.observe(_event(5, ev.RunSucceeded())) == []  # nobody subscribes
    first, second = opened
    common = {"trigger": "run_failed", "trigger_seq": 3}
    outbox.observe(
        _event(6, ev.NotificationSent(first.key, sink=1, attempts=1, status=200, **common))
    )
    outbox.observe(
        _event(
            7,
            ev.NotificationFailed(
                second.key,
                sink=2,
                attempts=1,
                status=500,
                message="HTTP 500",
                final=False,
                retry_at_ms=9999,
                **common,
            ),
        )
    )
    still = outbox.fold([])
    assert [(n.key, n.attempts, n.due_ms) for n in still] == [
        (second.key, 1, 9999),
        (notification_key("r1", 4, 1), 0, 1004),
    ]
    outbox.observe(
        _event(
            8,
            ev.NotificationFailed(
                second.key, sink=2, attempts=2, status=None, message="x", final=True, **common
            ),
        )
    )
    assert [n.trigger for n in outbox.fold([])] == ["approval_requested"]


def _n(trigger: str, **context: Any) -> Notification:
    return Notification("k" * 64, "run-1", "wf", trigger, 3, 1000, 1, context)


def test_every_known_event_has_a_sentence() -> None:
    samples = {
        "approval_requested": {"step": "s", "role": "manager", "stage": "after"},
        "approval_granted": {"step": "s", "principal": "alice", "comment": "ok"},
        "approval_rejected": {"step": "s", "principal": "bob"},
        "budget_exceeded": {
            "step": "s",
            "cap": "agent",
            "agent": "w",
            "spent": 2.0,
            "limit": 1.0,
            "measure": "usd",
        },
        "review_exhausted": {"step": "s"},
        "run_cancelled": {"by": "ops"},
        "run_failed": {"step": "s", "failure": "timeout", "message": "slow"},
        "run_succeeded": {},
        "tool_approval_requested": {"step": "s", "role": "manager", "tool": "mail"},
    }
    assert set(samples) == set(NOTIFY_EVENTS)
    said = {name: summary(_n(name, **context)) for name, context in samples.items()}
    assert said["approval_requested"] == (
        "Approval needed: step s of run run-1 of wf waits for role manager to commit its output."
    )
    assert said["approval_granted"] == "Step s of run run-1 of wf was approved by alice: ok"
    assert said["run_failed"] == "Run run-1 of wf failed at step s: timeout: slow"
    assert said["budget_exceeded"] == (
        "Budget reached in run run-1 of wf before step s: agent w cap, 2.0 of 1.0 usd."
    )
    assert said["run_succeeded"] == "Run run-1 of wf succeeded."
    assert said["tool_approval_requested"] == (
        "Approval needed: step s of run run-1 of wf waits for role manager to call tool mail."
    )


def test_json_messages_carry_the_fields_and_no_link_without_a_console() -> None:
    data = json.loads(body(_n("approval_requested", step="s", role="r"), NotifyFormat.JSON, None))
    assert data["link"] is None and data["step"] == "s" and data["role"] == "r"
    assert data["idempotency_key"] == "k" * 64 and data["event"] == "approval_requested"
    slack = json.loads(body(_n("run_succeeded"), NotifyFormat.SLACK, None))
    assert len(slack["blocks"]) == 1  # no link block
    discord = json.loads(body(_n("run_succeeded"), NotifyFormat.DISCORD, None))
    assert "url" not in discord["embeds"][0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_connection_or_a_bad_url_never_names_the_url() -> None:
    sink = NotifySink("HOOK", events=("run_failed",), timeout_ms=2000)
    url = f"http://127.0.0.1:{_closed_port()}/secret-path-123"
    tried = deliver(_n("run_failed"), sink, None, {"HOOK": url})
    assert not tried.ok and tried.retryable and tried.status is None
    assert tried.message.startswith("cannot connect:") and "secret-path-123" not in tried.message
    for bad in ("ftp://host/secret-path-123", "secret-path-123", "http://"):
        tried = deliver(_n("run_failed"), sink, None, {"HOOK": bad})
        assert tried.message == "HOOK does not hold an http(s) URL" and not tried.retryable


def test_a_redirect_is_not_followed() -> None:
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        sink = NotifySink("HOOK", events=("run_failed",))
        tried = deliver(_n("run_failed"), sink, None, {"HOOK": url})
        assert (tried.ok, tried.status, tried.message) == (False, 302, "HTTP 302")
    finally:
        server.shutdown()
        server.server_close()


def test_a_2xx_is_sent_and_the_reply_is_not_kept() -> None:
    with receiver(script=[202]) as hook:
        sink = NotifySink("HOOK", events=("run_failed",))
        tried = deliver(_n("run_failed", message="m"), sink, None, {"HOOK": hook.url + "/x"})
    assert (tried.ok, tried.status, tried.message) == (True, 202, "")
