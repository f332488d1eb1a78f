"""Python tools of the tool tests (tool_flows.py)."""

from __future__ import annotations

from pathlib import Path


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def send_mail(to: str, body: str) -> str:
    """Send mail (the tests' agent may not call this: it is outside its ACL)."""
    Path("mail_sent.txt").write_text(f"{to}: {body}\n", encoding="utf-8")
    return "sent"
