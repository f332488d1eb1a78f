"""A real MCP server (stdio, the SDK's MCPServer) whose tool blocks the first time it is
called, for the orphan test: a driver SIGKILLed mid-call must not leave it running.

It writes its pid to `blocking.pids` in its directory when it starts. `wait_here` blocks
its worker thread (a synchronous sleep, which no cancellation interrupts) the first
time, after creating `blocked-once`; later calls answer at once.
"""

import os
import time
from pathlib import Path

from mcp.server.mcpserver import MCPServer

with open("blocking.pids", "a", encoding="utf-8") as pids:
    pids.write(f"{os.getpid()}\n")

app = MCPServer("blocking")


@app.tool()
def wait_here(note: str) -> str:
    """Wait here (the first call blocks until the process is killed)."""
    if not Path("blocked-once").exists():
        with open("blocked-once", "w", encoding="utf-8") as marker:
            marker.write(note)
        time.sleep(600)
    return f"waited: {note}"


if __name__ == "__main__":
    app.run()
