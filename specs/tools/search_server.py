"""The example's search tool: a stdio MCP server (the `mcp` SDK) answering from a local
index (search_index.json, next to this file), never the internet.

`search(query)` returns the entries whose title or text shares a word with the query,
best first. Started by Baton for each attempt of an agent that may call it (its roster
file's directory is its working directory), stopped when the attempt ends.
"""

import json
import re
from pathlib import Path

from mcp.server.mcpserver import MCPServer

INDEX = Path(__file__).resolve().parent / "search_index.json"

app = MCPServer("search")


def _words(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-z0-9]+", text.lower()) if len(word) > 2}


@app.tool()
def search(query: str, limit: int = 3) -> list[dict[str, str]]:
    """Search the team's library; the best matches first (title, url, text)."""
    wanted = _words(query)
    entries = json.loads(INDEX.read_text("utf-8"))
    scored = [(len(wanted & _words(e["title"] + " " + e["text"])), e) for e in entries]
    ranked = [entry for score, entry in sorted(scored, key=lambda s: -s[0]) if score]
    return ranked[: max(1, min(limit, 10))]


if __name__ == "__main__":
    app.run()
