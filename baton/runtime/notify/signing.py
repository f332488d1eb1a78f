"""Webhook signatures: HMAC-SHA256 of the timestamp and the body, with the sink's secret.

    X-Baton-Timestamp: 1764672000
    X-Baton-Signature: sha256=<hex of HMAC-SHA256(secret, "1764672000." + body)>

The timestamp is inside the MAC so a captured request cannot be replayed later with a
new timestamp; a receiver refuses one whose timestamp is too old (`verify`).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Baton-Signature"
TIMESTAMP_HEADER = "X-Baton-Timestamp"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Baton-Signature` value.

    >>> signature("s", 1, b"{}")[:7]
    'sha256='
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str, body: bytes, timestamp: str, header: str, now_s: int, tolerance_s: int = 300
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent.

    >>> verify("s", b"{}", "100", signature("s", 100, b"{}"), now_s=110)
    True
    >>> verify("s", b"{}", "100", signature("s", 100, b"{}"), now_s=1000)
    False
    """
    if not timestamp.isdigit() or abs(now_s - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), header)
