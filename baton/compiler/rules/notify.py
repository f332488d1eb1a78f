"""Notification rules: a roster's `notify:` webhooks and its `console_url`.

A webhook URL is a credential (whoever holds a Slack or Discord webhook URL can post to
the channel), so the spec names the environment variable that holds it, never the URL;
the same for the signing secret. Messages link to the run on `console_url`.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator

from baton.compiler import ir
from baton.compiler.context import LintContext
from baton.compiler.diagnostics import Report, choices_text, did_you_mean

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_ROLES = {
    "url_env": ("webhook URL", "TEAM_WEBHOOK_URL"),
    "secret_env": ("signing secret", "BATON_WEBHOOK_SECRET"),
}


def _rosters(ctx: LintContext) -> Iterator[ir.Roster]:
    """Every roster once: roster files, and workflows' inline rosters."""
    seen: set[str] = set()
    candidates = list(ctx.spec.rosters.values()) + [
        w.roster for w in ctx.spec.workflows.values() if w.roster is not None
    ]
    for roster in candidates:
        if roster.key not in seen:
            seen.add(roster.key)
            yield roster


def unknown_notify_event(ctx: LintContext, report: Report) -> None:
    """A `notify:` entry subscribes to an event Baton never notifies about.

    Why: a misspelt event name would leave the sink silent forever, and nobody notices a
    message that never comes.

    Example: `events: [run_faild]` (did you mean `run_failed`?).
    """
    sinks = [sink for roster in _rosters(ctx) for sink in roster.notify]
    if not sinks:
        return
    from baton.runtime import NOTIFY_EVENTS  # only for spec sets with webhooks

    for sink in sinks:
        for name in sink.events:
            if name.value not in NOTIFY_EVENTS:
                report(
                    name.span,
                    f"unknown notification event '{name.value}'"
                    f"{did_you_mean(name.value, NOTIFY_EVENTS)}; expected one of "
                    f"{choices_text(NOTIFY_EVENTS)}",
                )


def secret_in_spec(ctx: LintContext, report: Report) -> None:
    """`url_env` or `secret_env` is not the name of an environment variable: a URL, or
    a secret, written into the spec.

    Why: a webhook URL is a credential (whoever has it posts to the channel) and the
    signing secret is one; a spec is checked in, compiled into `generated/` and shown
    in reviews. The spec names the variable; the process that runs the workflow has it.

    Example: `url_env: https://hooks.slack.com/services/T0/B0/XXXX` (write
    `url_env: TEAM_WEBHOOK_URL` and export TEAM_WEBHOOK_URL where runs are driven).
    """
    for roster in _rosters(ctx):
        for sink in roster.notify:
            for key, name in (("url_env", sink.url_env), ("secret_env", sink.secret_env)):
                if name is None or _ENV_NAME.match(name.value):
                    continue
                # never repeat the value: it may be the secret itself
                url = "://" in name.value or name.value.startswith("www.")
                held = "holds a URL, which is a secret" if url else "is not a variable name"
                what, example = _ENV_ROLES[key]
                report(
                    name.span,
                    f"`{key}` {held}: it names the environment variable that holds the "
                    f"{what} (letters, digits and _, e.g. {example}); keep the value out of "
                    "the spec",
                )


def console_url_not_http(ctx: LintContext, report: Report) -> None:
    """`console_url` is not an absolute http(s) URL.

    Why: messages link to `CONSOLE_URL/runs/RUN`; anything else makes a dead (or a
    `javascript:`) link in every message.

    Example: `console_url: 127.0.0.1:8700` (write `http://127.0.0.1:8700`).
    """
    for roster in _rosters(ctx):
        url = roster.console_url
        if url is None:
            continue
        parts = urllib.parse.urlsplit(url.value)
        if parts.scheme in ("http", "https") and parts.netloc and " " not in url.value:
            continue
        report(
            url.span,
            f"console_url '{url.value}' is not an absolute http(s) URL "
            "(e.g. http://127.0.0.1:8700)",
        )
