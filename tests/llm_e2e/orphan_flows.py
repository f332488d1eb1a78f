"""A workflow whose llm agent calls one MCP stdio tool that blocks on its first call
(tool_servers/blocking_server.py), run as `baton run orphan_flows:BLOCKING`."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from llm_flows import WEBSTER
from tool_flows import research

from baton.runtime.model import Tool, ToolKind

SERVER = str(Path(__file__).resolve().parent / "tool_servers" / "blocking_server.py")
BLOCKER = Tool("blocker", ToolKind.MCP_STDIO, (sys.executable, SERVER), timeout_ms=300_000)
BLOCKING = replace(
    research(BLOCKER), agents=(replace(WEBSTER, tools=("blocker",), max_tool_calls=4),)
)
