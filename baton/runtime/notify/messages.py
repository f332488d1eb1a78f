"""The body a sink receives, per format: slack, discord or json.

Every value a message shows may come from outside (an agent's error message, an
approver's comment, a principal's name): it is cut short and made inert for the format
(Slack: `&`, `<`, `>` escaped, so no `<!channel>`, `<@U123>` or `<url|label>`; Discord:
markdown escaped and no mention parsed, `allowed_mentions` empty), and `@everyone`,
`@here` and `@channel` get a zero-width space after the `@` on both. No output, input
or response body is ever put in a message: a message says what happened and links to
the run on the console.
"""

from __future__ import annotations

import json
import re
import urllib.parse

from baton.runtime.model import JSON, NotifyFormat
from baton.runtime.notify.outbox import Notification

MAX_TEXT = 200  # characters of any one untrusted value in a message
_ZWSP = "\u200b"
_MASS_MENTION = re.compile(r"@(?=(everyone|here|channel)\b)", re.IGNORECASE)
_DISCORD_MARKDOWN = re.compile(r"([\\*_~`|>\[\]()#<:-])")


def short(text: object, limit: int = MAX_TEXT) -> str:
    """`text` on one line, at most `limit` characters.

    >>> short("a\\nb" + "x" * 300)[:5], len(short("x" * 300))
    ('a bxx', 200)
    """
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def slack_escape(text: object) -> str:
    """Inert in Slack mrkdwn: control characters `&<>` escaped, mass mentions broken.

    >>> slack_escape("<!channel> & @here <https://x|y>")
    '&lt;!channel&gt; &amp; @\u200bhere &lt;https://x|y&gt;'
    """
    value = short(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MASS_MENTION.sub("@" + _ZWSP, value)


def discord_escape(text: object) -> str:
    """Inert in Discord markdown: markdown characters escaped, every `@` followed by a
    zero-width space (no `@everyone`, no `<@id>` mention).

    >>> discord_escape("@everyone **hi** <@123>")
    '@\u200beveryone \\\\*\\\\*hi\\\\*\\\\* \\\\<@\u200b123\\\\>'
    """
    value = _DISCORD_MARKDOWN.sub(r"\\\1", short(text))
    return value.replace("@", "@" + _ZWSP)


def run_link(console_url: str | None, run_id: str) -> str | None:
    """The run's page on the console, or None without a `console_url`.

    >>> run_link("http://127.0.0.1:8700/", "r 1")
    'http://127.0.0.1:8700/runs/r%201'
    """
    if not console_url:
        return None
    return f"{console_url.rstrip('/')}/runs/{urllib.parse.quote(run_id, safe='')}"


def summary(n: Notification, quote: type[_Quote] | None = None) -> str:
    """One sentence saying what happened, each outside value passed through `quote`."""
    q = quote or _Quote
    c = n.context
    run = f"run {q.code(n.run_id)} of {q.code(n.workflow)}"
    step = q.code(c.get("step", "?"))
    match n.trigger:
        case "approval_requested":
            what = "to run" if c.get("stage") != "after" else "to commit its output"
            role = q.code(c.get("role", "?"))
            return f"Approval needed: step {step} of {run} waits for role {role} {what}."
        case "tool_approval_requested":
            role = q.code(c.get("role", "?"))
            tool = q.code(c.get("tool", "?"))
            return (
                f"Approval needed: step {step} of {run} waits for role {role} to call tool {tool}."
            )
        case "approval_granted" | "approval_rejected":
            verb = "approved" if n.trigger == "approval_granted" else "rejected"
            text = f"Step {step} of {run} was {verb} by {q.text(c.get('principal', '?'))}"
            comment = c.get("comment")
            return text + (f": {q.text(comment)}" if comment else ".")
        case "run_succeeded":
            return f"Run {q.code(n.run_id)} of {q.code(n.workflow)} succeeded."
        case "run_failed":
            where = f" at step {step}" if c.get("step") else ""
            why = c.get("failure") or "failed"
            detail = c.get("message")
            text = f"Run {q.code(n.run_id)} of {q.code(n.workflow)} failed{where}: {q.text(why)}"
            return text + (f": {q.text(detail)}" if detail else ".")
        case "run_cancelled":
            by = c.get("by")
            return f"Run {q.code(n.run_id)} of {q.code(n.workflow)} was cancelled" + (
                f" by {q.text(by)}." if by else "."
            )
        case "budget_exceeded":
            cap = "run" if c.get("cap") != "agent" else f"agent {q.code(c.get('agent', '?'))}"
            return (
                f"Budget reached in {run} before step {step}: {cap} cap, "
                f"{q.text(c.get('spent', '?'))} of {q.text(c.get('limit', '?'))} "
                f"{q.text(c.get('measure', ''))}."
            )
        case "review_exhausted":
            return f"Review loop of step {step} of {run} ran out of rounds."
    return f"{q.text(n.trigger)} in {run}."


class _Quote:
    """How a format shows outside values: plain (json)."""

    @staticmethod
    def code(value: object) -> str:
        return short(value)

    @staticmethod
    def text(value: object) -> str:
        return short(value)


class _SlackQuote(_Quote):
    @staticmethod
    def code(value: object) -> str:
        return "`" + slack_escape(value).replace("`", "'") + "`"

    @staticmethod
    def text(value: object) -> str:
        return slack_escape(value)


class _DiscordQuote(_Quote):
    @staticmethod
    def code(value: object) -> str:
        return discord_escape(value)

    @staticmethod
    def text(value: object) -> str:
        return discord_escape(value)


def body(n: Notification, format: NotifyFormat, console_url: str | None) -> bytes:
    """The POST body for sink format `format` (UTF-8 JSON)."""
    link = run_link(console_url, n.run_id)
    payload: dict[str, JSON]
    if format is NotifyFormat.SLACK:
        text = summary(n, _SlackQuote)
        blocks: list[JSON] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        if link is not None:
            blocks.append(
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"<{_slack_url(link)}|Open the run>"}],
                }
            )
        payload = {"text": text, "blocks": blocks}
    elif format is NotifyFormat.DISCORD:
        text = summary(n, _DiscordQuote)
        embed: dict[str, JSON] = {
            "title": short(f"{n.trigger} · {n.run_id}", 120),
            "description": text,
        }
        if link is not None:
            embed["url"] = link
        payload = {"content": text, "embeds": [embed], "allowed_mentions": {"parse": []}}
    else:
        payload = {
            "event": n.trigger,
            "run_id": n.run_id,
            "workflow": n.workflow,
            "step": n.context.get("step"),
            "role": n.context.get("role"),
            "seq": n.trigger_seq,
            "ts": n.ts,
            "idempotency_key": n.key,
            "link": link,
            "summary": summary(n),
            "detail": {k: _short_json(v) for k, v in sorted(n.context.items())},
        }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _short_json(value: JSON) -> JSON:
    return short(value) if isinstance(value, str) else value


def _slack_url(link: str) -> str:
    """A URL inside Slack's `<url|label>`: `|` and `>` would end it early."""
    return link.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
