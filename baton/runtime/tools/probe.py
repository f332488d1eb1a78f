"""`baton lint --probe-tools`: start a tool's MCP server and list its tools (rule B703)."""

from __future__ import annotations

import os
from pathlib import Path

PROBE_TIMEOUT_S = 30.0


def probe_tool_names(
    kind: str, target: str | tuple[str, ...], directory: str, label: str = "probe"
) -> tuple[list[str], str | None]:
    """The names the server lists, or ([], why it could not be listed). `directory`:
    where a stdio server starts (its roster's directory)."""
    from baton.runtime.tools.errors import ToolFailure
    from baton.runtime.tools.mcp_client import McpConnection

    try:
        if kind == "mcp_http":
            connection = McpConnection(label, url=str(target), start_timeout_s=PROBE_TIMEOUT_S)
        else:
            command = tuple(target) if isinstance(target, tuple) else (str(target),)
            connection = McpConnection(
                label,
                command=command,
                directory=os.fspath(Path(directory).absolute()),
                start_timeout_s=PROBE_TIMEOUT_S,
            )
    except ToolFailure as failure:
        return [], failure.message
    try:
        return sorted(str(t["name"]) for t in connection.list_tools(PROBE_TIMEOUT_S)), None
    except ToolFailure as failure:
        return [], failure.message
    finally:
        connection.close()
