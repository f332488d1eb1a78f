"""Notifications: webhooks told about a run's events (the roster's `notify:`).

The run's event log is the outbox. An event a sink subscribes to (`approval_requested`,
`run_failed`, ...) is durable before anyone is told about it, and from then on the
notification it owes each sink is *open* until the log records `notification_sent`, or
a final `notification_failed`. A driver delivers open notifications off the run's hot
path (a thread of its own locally, an activity on Temporal), records each outcome as an
event, and after a crash finds the open ones again by folding the log (`outbox.Outbox`).
A notification keeps one `Idempotency-Key` (run id, the event's seq, the sink) through
every retry and redelivery, so a receiver dedupes on it.

- `outbox`: which notifications a log owes (pure);
- `messages`: the body each format gets (slack, discord, json), untrusted text escaped;
- `signing`: the HMAC-SHA256 signature headers, and how a receiver checks them;
- `post`: one POST, its outcome as a message that never holds the URL or the secret;
- `local`: the local driver's delivery thread.
"""

from baton.runtime.notify.outbox import Notification, Outbox, notification_key

__all__ = ["Notification", "Outbox", "notification_key"]
