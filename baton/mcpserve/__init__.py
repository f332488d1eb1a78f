"""`baton mcp serve`: Baton as an MCP server over stdio (docs/tools.md, "Baton as an MCP
server"). `service` does the work with no MCP in it; `server` exposes it as MCP tools."""
