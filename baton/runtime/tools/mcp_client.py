"""One connection to one MCP server, usable from synchronous code (the llm adapter).

The official SDK is asynchronous and its `Client` must be entered and left by the same
task, so each connection owns a thread running an event loop and one long-lived task:
it opens the client (starting a stdio server as a subprocess, or connecting to a
streamable HTTP URL), then serves `list_tools` and `call_tool` requests from a queue
until `close()`, and leaves the client in the same task, which stops the subprocess.

A stdio server runs in its roster's directory, started on Linux through
`orphan_guard.py` so that it dies with this process even when this process is killed
(SIGKILL): no server outlives its driver. It runs with the SDK's minimal environment
(PATH, HOME, ...: never the caller's secrets); its stderr goes to a temporary file whose
tail is quoted when the server fails to start. `python` as the command's first word is
the interpreter running Baton, so a server written against the same environment's SDK
starts wherever Baton runs.

The call's idempotency key goes to the server in the request's `_meta`
(`baton/idempotency_key`), the MCP way of passing per-request metadata.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from baton.runtime.model import JSON, FailureClass
from baton.runtime.tools.errors import ToolFailure

META_KEY = "baton/idempotency_key"
STDERR_TAIL_CHARS = 600
CLOSE_WAIT_S = 10.0
SDK_TIMEOUT_MARGIN_S = 5.0


def server_argv(command: tuple[str, ...], directory: str | None) -> list[str]:
    """The command to start: `python` is Baton's interpreter; a relative program path
    (with a slash) starts from the tool's directory.

    >>> server_argv(("python", "-m", "srv"), None)[1:]
    ['-m', 'srv']
    """
    argv = list(command)
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    elif argv and directory and "/" in argv[0] and not Path(argv[0]).is_absolute():
        argv[0] = os.path.normpath(Path(directory) / argv[0])
    return argv


def guarded(argv: list[str], directory: str | None = None) -> list[str]:
    """On Linux, `argv` started through runtime/tools/orphan_guard.py, so the server is
    killed when this process dies, even by SIGKILL; elsewhere, or when its program
    cannot be found (nothing would run, and the SDK names the missing program best),
    `argv` itself."""
    if not argv or not sys.platform.startswith("linux") or not _found(argv[0], directory):
        return argv
    guard = str(Path(__file__).resolve().parent / "orphan_guard.py")
    return [sys.executable, "-I", guard, str(os.getpid()), *argv]


def _found(program: str, directory: str | None) -> bool:
    if os.sep in program:  # a path: the server's own directory is its working directory
        return os.access(Path(directory or ".") / program, os.X_OK)
    return shutil.which(program) is not None


class McpConnection:
    """An open MCP client session; `close()` always, even after a failure."""

    def __init__(
        self,
        label: str,
        *,
        command: tuple[str, ...] | None = None,
        url: str | None = None,
        directory: str | None = None,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.label = label
        self._command = command
        self._url = url
        self._directory = directory
        self._loop = asyncio.new_event_loop()
        self._requests: asyncio.Queue[Any] | None = None
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._done: concurrent.futures.Future[None] = concurrent.futures.Future()
        # the server's stderr, quoted when it fails; closed by close()
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._thread = threading.Thread(target=self._run, name=f"mcp {label}", daemon=True)
        self._thread.start()
        try:
            self._ready.result(timeout=start_timeout_s)
        except concurrent.futures.TimeoutError:
            self.close()
            raise ToolFailure(
                FailureClass.TIMEOUT,
                f"the MCP server of tool {label!r} did not answer within {start_timeout_s:g} s "
                "of starting",
            ) from None
        except ToolFailure:
            self.close()
            raise

    # -- the connection's own thread

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()
            if not self._done.done():
                self._done.set_result(None)

    def _client(self) -> Any:
        from mcp import Client

        if self._url is not None:
            return Client(self._url)
        from mcp.client.stdio import StdioServerParameters, stdio_client

        argv = guarded(server_argv(self._command or (), self._directory), self._directory)
        params = StdioServerParameters(command=argv[0], args=argv[1:], cwd=self._directory)
        return Client(stdio_client(params, errlog=self._stderr))

    async def _serve(self) -> None:
        self._requests = asyncio.Queue()
        try:
            async with self._client() as client:
                self._ready.set_result(None)
                while True:
                    request = await self._requests.get()
                    if request is None:
                        break
                    work, future = request
                    try:
                        result = await work(client)
                    except BaseException as error:  # handed to the caller's thread
                        if not future.done():
                            future.set_exception(error)
                        if isinstance(error, asyncio.CancelledError | KeyboardInterrupt):
                            raise
                    else:
                        if not future.done():
                            future.set_result(result)
        except BaseException as error:  # the start failed, or the server died
            if not self._ready.done():
                self._ready.set_exception(
                    ToolFailure(FailureClass.TOOL_ERROR, self._start_problem(error))
                )
        finally:
            self._drain()

    def _drain(self) -> None:
        """Fail every request still queued: the connection is gone."""
        queue = self._requests
        while queue is not None and not queue.empty():
            request = queue.get_nowait()
            if request is not None and not request[1].done():
                request[1].set_exception(
                    ToolFailure(
                        FailureClass.TOOL_ERROR,
                        f"the MCP server of tool {self.label!r} closed the connection"
                        f"{self._stderr_tail()}",
                    )
                )

    def _start_problem(self, error: BaseException) -> str:
        where = self._url if self._url is not None else " ".join(self._command or ())
        return (
            f"the MCP server of tool {self.label!r} ({where}) did not start: "
            f"{_describe(error)}{self._stderr_tail()}"
        )

    def _stderr_tail(self) -> str:
        try:
            self._stderr.flush()
            self._stderr.seek(0)
            text = self._stderr.read().strip()
        except (OSError, ValueError):
            return ""
        if not text:
            return ""
        return f"; its stderr ends with: {text[-STDERR_TAIL_CHARS:]}"

    # -- the caller's side

    def _submit(self, work: Callable[[Any], Awaitable[Any]], timeout_s: float, what: str) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        queue = self._requests
        if queue is None or self._loop.is_closed():
            raise ToolFailure(FailureClass.TOOL_ERROR, f"tool {self.label!r}: not connected")
        try:
            self._loop.call_soon_threadsafe(queue.put_nowait, (work, future))
        except RuntimeError:  # the loop is closed: the server went away
            raise ToolFailure(
                FailureClass.TOOL_ERROR,
                f"the MCP server of tool {self.label!r} is gone{self._stderr_tail()}",
            ) from None
        try:
            return future.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError:
            raise ToolFailure(
                FailureClass.TIMEOUT, f"tool {self.label!r}: {what} took more than {timeout_s:g} s"
            ) from None
        except ToolFailure:
            raise
        except Exception as error:  # the SDK's, named in Baton's message
            raise ToolFailure(
                FailureClass.TOOL_ERROR,
                f"tool {self.label!r}: {what} failed: {_describe(error)}{self._stderr_tail()}",
            ) from None

    def list_tools(self, timeout_s: float) -> list[dict[str, JSON]]:
        """Every tool the server lists: `{"name", "description", "input_schema"}`."""

        async def work(client: Any) -> list[dict[str, JSON]]:
            found: list[dict[str, JSON]] = []
            cursor = None
            for _ in range(100):  # a server whose pages never end cannot hang us
                page = await client.list_tools(cursor=cursor)
                for tool in page.tools:
                    found.append(
                        {
                            "name": tool.name,
                            "description": tool.description or "",
                            "input_schema": tool.input_schema or {"type": "object"},
                        }
                    )
                cursor = page.next_cursor
                if not cursor:
                    break
            return found

        result: list[dict[str, JSON]] = self._submit(work, timeout_s, "tools/list")
        return result

    def call_tool(
        self, name: str, arguments: dict[str, JSON], key: str, timeout_s: float
    ) -> tuple[JSON, bool]:
        """Call `name`; (its result as JSON, whether the server says it is an error)."""

        async def work(client: Any) -> tuple[JSON, bool]:
            result = await client.call_tool(
                # the SDK's own limit comes later than ours, so a slow call is always
                # Baton's `timeout` (ours), never the SDK's error (`tool_error`)
                name,
                arguments,
                read_timeout_seconds=timeout_s + SDK_TIMEOUT_MARGIN_S,
                meta={META_KEY: key},
            )
            return result_json(result), bool(result.is_error)

        answer: tuple[JSON, bool] = self._submit(work, timeout_s, f"the call of {name!r}")
        return answer

    def close(self) -> None:
        """Leave the session (a stdio server is stopped) and end the thread."""
        queue = self._requests
        if queue is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile: nothing to stop
                self._loop.call_soon_threadsafe(queue.put_nowait, None)
        self._thread.join(CLOSE_WAIT_S)
        self._stderr.close()


def result_json(result: Any) -> JSON:
    """A CallToolResult as the JSON a model is shown: its structured content when the
    tool gave one, else its text parts joined (other parts described by type)."""
    structured = getattr(result, "structured_content", None)
    if structured is not None:
        if isinstance(structured, dict) and set(structured) == {"result"}:
            return structured["result"]  # the SDK wraps a bare return value so
        return structured
    parts: list[str] = []
    for content in getattr(result, "content", None) or []:
        text = getattr(content, "text", None)
        parts.append(text if isinstance(text, str) else f"[{getattr(content, 'type', '?')}]")
    return "\n".join(parts)


def _describe(error: BaseException) -> str:
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in error.exceptions)
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
