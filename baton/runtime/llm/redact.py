"""Keep API keys out of every message Baton writes.

The SDKs' exceptions quote response bodies in their text (Anthropic's quotes the whole
error body) and hold the request, whose headers carry the key. Baton therefore never
re-raises or chains an SDK exception: it builds its own message from the status and the
error body's `message`, and passes that (and anything else it writes from a provider:
cassette entries, retry reasons) through `scrub` first.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

REDACTED = "[redacted]"


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every occurrence of each secret replaced by `[redacted]`.

    >>> scrub("Incorrect API key provided: sk-live-123.", ["sk-live-123"])
    'Incorrect API key provided: [redacted].'
    >>> scrub("nothing to hide", [None, ""])
    'nothing to hide'
    """
    # longest first, so a key that contains another key is not left half-visible
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def display_url(url: str) -> str:
    """A URL fit for a message: without user:password (a base_url may carry them).

    >>> display_url("https://user:pw@llm.internal:8443/v1")
    'https://llm.internal:8443/v1'
    """
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
