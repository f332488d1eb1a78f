"""The example's mail tool: a stdio MCP server (the `mcp` SDK) that does not send mail
but appends each message to a local outbox file (`--outbox PATH`, relative to its
working directory: the roster file's directory), one JSON line per message.

An external effect: the roster declares it `effect: external` with an approval, so each
call waits for a person, and Baton passes the call's idempotency key in the request's
`_meta` (`baton/idempotency_key`). The server keeps it with the message and queues a
key it already has only once, so a call made again after a crash sends nothing twice.
"""

import json
import sys
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer

OUTBOX = Path(
    sys.argv[sys.argv.index("--outbox") + 1] if "--outbox" in sys.argv else "outbox.jsonl"
)

app = MCPServer("mail")


def _sent() -> list[dict[str, str]]:
    if not OUTBOX.exists():
        return []
    return [json.loads(line) for line in OUTBOX.read_text("utf-8").splitlines() if line]


@app.tool()
def send_message(to: str, subject: str, body: str, ctx: Context) -> str:
    """Send a message (to the outbox)."""
    key = str((ctx.request_context.meta or {}).get("baton/idempotency_key", ""))
    if key and any(message.get("key") == key for message in _sent()):
        return f"already queued for {to}"
    OUTBOX.parent.mkdir(parents=True, exist_ok=True)
    message = {"to": to, "subject": subject, "body": body, "key": key}
    with OUTBOX.open("a", encoding="utf-8") as outbox:
        outbox.write(json.dumps(message, ensure_ascii=False) + "\n")
    return f"queued for {to}"


if __name__ == "__main__":
    app.run()
