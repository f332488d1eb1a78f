"""`baton mcp serve` as a real subprocess, driven by the `mcp` SDK's own client
(`stdio_client` + `ClientSession`) from synchronous tests.

The session lives in a task of an anyio blocking portal (a thread with an event loop),
entered and left by that same task as the SDK requires; each call is run through the
portal. The server's stderr goes to a file the tests read (it must never hold a token).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, ExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from anyio.from_thread import start_blocking_portal
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

ROOT = Path(__file__).resolve().parent.parent.parent
BATON = str(Path(sys.executable).parent / "baton")
CALL_TIMEOUT_S = 120.0


@asynccontextmanager
async def _session(params: StdioServerParameters, errlog: Any) -> AsyncIterator[ClientSession]:
    async with (
        stdio_client(params, errlog=errlog) as (read, write),
        ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT_S) as session,
    ):
        await session.initialize()
        yield session


class McpServe:
    """One `baton mcp serve ARGS` process and an initialized client session to it."""

    def __init__(self, workdir: Path, *args: str, token: str | None = None) -> None:
        self.stderr_path = workdir / f"mcp-serve-{os.getpid()}-{id(self)}.stderr"
        env = {"PYTHONPATH": str(ROOT), "BATON_DB": str(workdir / "baton.db")}
        if token is not None:
            env["BATON_TOKEN"] = token
        params = StdioServerParameters(
            command=BATON, args=["mcp", "serve", *args], env=env, cwd=workdir
        )
        self._stack = ExitStack()
        errlog = self._stack.enter_context(self.stderr_path.open("w", encoding="utf-8"))
        self._portal = self._stack.enter_context(start_blocking_portal())
        manager: AbstractContextManager[ClientSession] = self._portal.wrap_async_context_manager(
            _session(params, errlog)
        )
        self.session = self._stack.enter_context(manager)

    def tools(self) -> list[str]:
        listed = self._portal.call(self.session.list_tools)
        return sorted(tool.name for tool in listed.tools)

    def call(self, name: str, **arguments: Any) -> tuple[Any, bool]:
        """(the tool's result as JSON, whether it is an error); an error's text as is."""
        result = self._portal.call(self.session.call_tool, name, arguments)
        text = "".join(getattr(part, "text", "") for part in result.content)
        if result.is_error:
            return text, True
        structured = result.structured_content
        if isinstance(structured, dict) and set(structured) == {"result"}:
            return structured["result"], False
        return (structured if structured is not None else json.loads(text)), False

    def ok(self, name: str, **arguments: Any) -> Any:
        value, error = self.call(name, **arguments)
        assert not error, value
        return value

    def refused(self, name: str, **arguments: Any) -> str:
        value, error = self.call(name, **arguments)
        assert error, value
        assert isinstance(value, str)
        return value

    def stderr(self) -> str:
        return self.stderr_path.read_text("utf-8")

    def close(self) -> None:
        self._stack.close()
