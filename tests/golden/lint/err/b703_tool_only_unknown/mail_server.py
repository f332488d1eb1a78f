"""A small MCP server (stdio) for the B703 golden case: it lists `send_message`."""

from mcp.server.mcpserver import MCPServer

app = MCPServer("mail")


@app.tool()
def send_message(to: str, body: str) -> str:
    """Send a message."""
    return f"sent to {to}"


if __name__ == "__main__":
    app.run()
