"""Build the IR of a roster's `tools:` (compiler.ir.Tool).

    tools:
      github: {mcp: {command: ["python", "-m", "servers.github"]}}
      mail:   {mcp: {url: "http://127.0.0.1:8931/mcp"}, effect: external,
               approval: {role: manager}, only: [send_message]}
      calc:   {python: "tools.calc:evaluate", timeout: 5s}

Tolerant like the rest of the builder: a value of the wrong shape (B002) is left out,
and an entry with no source (no `mcp`, no `python`) keeps kind "" so that the rules
about agents naming it still see that it exists.
"""

from __future__ import annotations

import re

from baton.compiler import ir
from baton.compiler.yamlnodes import YMap, YNode, YScalar, YSeq

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def roster_tools(node: YNode | None) -> dict[str, ir.Tool]:
    """The `tools:` mapping of a roster (or of a workflow's inline roster)."""
    if not isinstance(node, YMap):
        return {}
    return {
        name: tool(name, key, value) for name, key, value in node.items() if isinstance(value, YMap)
    }


def tool(name: str, key: YScalar, node: YMap) -> ir.Tool:
    """One tool entry."""
    kind, target_span = "", node.span
    target: str | tuple[str, ...] = ""
    mcp = node.get("mcp")
    python = node.get("python")
    if isinstance(mcp, YMap):
        command, url = mcp.get("command"), mcp.get("url")
        if isinstance(command, YSeq):
            kind, target_span = "mcp_stdio", command.span
            target = tuple(str(item.data) for item in command.items)
        elif isinstance(url, YScalar) and isinstance(url.value, str):
            kind, target, target_span = "mcp_http", url.value, url.span
    elif isinstance(python, YScalar) and isinstance(python.value, str):
        kind, target, target_span = "python", python.value, python.span
    effect = node.get("effect")
    approval = node.get("approval")
    role = approval.get("role") if isinstance(approval, YMap) else None
    return ir.Tool(
        name=name,
        span=key.span,
        kind=kind,
        target=target,
        target_span=target_span,
        only=_names(node.get("only")),
        effect=_text(effect) or "none",
        effect_span=effect.span if effect is not None else None,
        approval_role=_name(role),
        timeout_ms=_duration_ms(_text(node.get("timeout"))) or ir.DEFAULT_TOOL_TIMEOUT_MS,
        description=_text(node.get("description")),
        sources=tuple(key for key in ("mcp", "python") if node.get(key) is not None),
    )


def _text(node: YNode | None) -> str | None:
    if isinstance(node, YScalar) and isinstance(node.value, str):
        return node.value
    return None


def _name(node: YNode | None) -> ir.Name | None:
    text = _text(node)
    return ir.Name(text, node.span) if text is not None and node is not None else None


def _names(node: YNode | None) -> tuple[ir.Name, ...]:
    if not isinstance(node, YSeq):
        return ()
    return tuple(n for n in (_name(item) for item in node.items) if n)


def _duration_ms(text: str | None) -> int | None:
    match = _DURATION.match(text or "")
    if not match:
        return None
    return round(float(match.group(1)) * _UNIT_MS[match.group(2)]) or None
