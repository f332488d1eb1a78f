"""The tools of one attempt of one llm agent: what is offered, and each call, governed.

Offered: the agent's `tools:` (its ACL) that the workflow declares. A python tool is
offered under its roster name; each tool of an MCP server (those in `only:`, if set)
as `<roster tool>__<server tool>`. MCP servers are started once per attempt, when the
attempt first needs them, and always stopped (`close`).

Each call the model asks for:

1. is resolved against every tool of the workflow; a name outside the agent's ACL (or
   outside `only:`, or unknown) is refused: `tool_call_failed` with `acl_denied`, never
   executed, and the model is told it is not allowed;
2. gets its key, `sha256(["tool", step key, index, name, arguments])`: the same when a
   resumed attempt asks for the same call at the same place. A completed call with that
   key in the run's log is not made again: `tool_call_started` (`reused: true`) and its
   recorded result goes back to the model;
3. a tool with `approval:` needs a person's decision on exactly this call (its subject:
   tool, name, arguments, step, attempt, key; bound by its sha256). None yet: the
   attempt stops (ToolApprovalNeeded) and the step waits (runtime.core.tool_approvals);
   rejected: `tool_call_failed` with `rejected`, never made, and the model is told;
   granted: made as below;
4. otherwise `tool_call_started` is made durable first, then the tool is called (the
   key in MCP `_meta`), then `tool_call_completed` (result and checksum) or
   `tool_call_failed` (the attempt then fails with `tool_error` or `timeout`, retried
   per the step's policy). An effectful call that started but never completed is made
   again on resume with the same key: at least once, as every external effect;
5. its result is untrusted: sanitized and wrapped (`<untrusted source="tools.NAME">`)
   like untrusted inputs before the model reads it, and the step's output is tainted.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baton.runtime.agents.envelope import AgentFailure
from baton.runtime.canonical import checksum
from baton.runtime.core import events as ev
from baton.runtime.llm.messages import ToolSpec
from baton.runtime.model import JSON, AgentBinding, FailureClass, Request, Tool, ToolKind
from baton.runtime.sanitize import sanitize
from baton.runtime.tools.errors import ToolApprovalNeeded, ToolFailure

SEPARATOR = "__"  # between a roster tool's name and its MCP server's tool's
DEFAULT_BUDGET_TOKENS = 2000
# starting and listing a server is not a call: a short call timeout must not fail it
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Offered:
    """One function the model may call: the roster tool and the server's name for it."""

    tool: Tool
    function: str  # the MCP tool's name; "" for a python tool
    spec: ToolSpec


def call_key(step_key: str, index: int, name: str, arguments: JSON) -> str:
    """The idempotency key of the `index`-th call (1-based) of an attempt.

    >>> call_key("k", 1, "calc", {"x": 1}) == call_key("k", 1, "calc", {"x": 1})
    True
    >>> call_key("k", 1, "calc", {"x": 1}) == call_key("k", 2, "calc", {"x": 1})
    False
    """
    return checksum(["tool", step_key, index, name, arguments])


class Toolbox:
    """The tools of one attempt (see the module docstring); `close()` always."""

    def __init__(
        self,
        tools: tuple[Tool, ...],
        binding: AgentBinding,
        request: Request[Any],
        host: Any,
        root: str = "",
        budget_tokens: int = DEFAULT_BUDGET_TOKENS,
        decisions: tuple[dict[str, JSON], ...] = (),
    ) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self.binding = binding
        self.request = request
        self.host = host
        self.root = root
        self.budget_tokens = budget_tokens
        # people's decisions on this attempt's calls of tools with `approval:`
        # (core.tool_approvals), and the granted calls this run of the loop made
        self.decisions = decisions
        self._used: set[str] = set()
        self.untrusted: list[str] = []  # `tool:NAME` of every result the model read
        self._connections: dict[str, Any] = {}
        self._python: dict[str, Any] = {}
        self._offered: dict[str, Offered] | None = None

    # -- what the model is offered

    def offered(self) -> dict[str, Offered]:
        """The functions the agent may call, by the name the model sees."""
        if self._offered is None:
            found: dict[str, Offered] = {}
            for name in self.binding.tools:
                tool = self.tools.get(name)
                if tool is not None:
                    for offered in self._functions(tool):
                        found[offered.spec.name] = offered
            self._offered = dict(sorted(found.items()))
        return self._offered

    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(offered.spec for offered in self.offered().values())

    def _functions(self, tool: Tool) -> list[Offered]:
        if tool.kind is ToolKind.PYTHON:
            loaded = self._python_tool(tool)
            description = tool.description or loaded.description
            return [Offered(tool, "", ToolSpec(tool.name, description, loaded.schema))]
        listed = self._connection(tool).list_tools(max(tool.timeout_ms / 1000, START_TIMEOUT_S))
        wanted = set(tool.only)
        return [
            Offered(
                tool,
                str(entry["name"]),
                ToolSpec(
                    f"{tool.name}{SEPARATOR}{entry['name']}",
                    str(entry.get("description") or tool.description or ""),
                    dict(entry["input_schema"]),
                ),
            )
            for entry in listed
            if not wanted or entry["name"] in wanted
        ]

    def _python_tool(self, tool: Tool) -> Any:
        from baton.runtime.tools.python_tool import load

        if tool.name not in self._python:
            self._python[tool.name] = load(str(tool.target), self.root)
        return self._python[tool.name]

    def _connection(self, tool: Tool) -> Any:
        from baton.runtime.tools.mcp_client import McpConnection

        if tool.name not in self._connections:
            timeout_s = max(tool.timeout_ms / 1000, START_TIMEOUT_S)
            if tool.kind is ToolKind.MCP_HTTP:
                connection = McpConnection(
                    tool.name, url=str(tool.target), start_timeout_s=timeout_s
                )
            else:
                target = tool.target if isinstance(tool.target, tuple) else (str(tool.target),)
                directory = str((Path(self.root or ".") / tool.directory).absolute())
                connection = McpConnection(
                    tool.name, command=target, directory=directory, start_timeout_s=timeout_s
                )
            self._connections[tool.name] = connection
        return self._connections[tool.name]

    # -- one call

    def call(self, index: int, name: str, arguments: dict[str, JSON]) -> str:
        """Make (or reuse) the model's `index`-th call; the text the model reads back.
        Raises AgentFailure when the attempt must fail (the tool failed or timed out),
        ToolApprovalNeeded when a person must decide on the call first."""
        where: dict[str, Any] = {"step": self.request.step, "attempt": self.request.attempt}
        key = call_key(self.request.idempotency_key, index, name, arguments)
        offered = self.offered().get(name)
        if offered is None:
            message = self._refusal(name)
            self._record(
                ev.ToolCallFailed(
                    **where,
                    tool=self._roster_tool(name),
                    name=name,
                    key=key,
                    failure=FailureClass.ACL_DENIED.value,
                    message=message,
                )
            )
            return f"Error: {message}. Do not call it again."
        tool = offered.tool
        stored = self.host.completed(key) if self.host is not None else None
        if stored is not None:  # made before (and approved then, if it needed to be)
            self._used.add(key)
            self._record(
                ev.ToolCallStarted(
                    **where,
                    tool=tool.name,
                    name=name,
                    index=index,
                    key=key,
                    arguments=arguments,
                    reused=True,
                )
            )
            return self._for_model(tool, stored[0])
        if tool.approval_role is not None:
            refusal = self._approved(tool, index, name, arguments, key)
            if refusal is not None:
                return refusal
        started = ev.ToolCallStarted(
            **where, tool=tool.name, name=name, index=index, key=key, arguments=arguments
        )
        self._record(started)
        began = time.monotonic()
        try:
            result = self._execute(offered, arguments, key)
        except ToolFailure as failure:
            self._record(
                ev.ToolCallFailed(
                    **where,
                    tool=tool.name,
                    name=name,
                    key=key,
                    failure=failure.failure.value,
                    message=failure.message,
                    latency_ms=_since(began),
                )
            )
            raise AgentFailure(
                failure.failure, f"tool call {name!r} failed: {failure.message}"
            ) from None
        self._record(
            ev.ToolCallCompleted(
                **where,
                tool=tool.name,
                name=name,
                key=key,
                checksum=checksum(result),
                result=result,
                latency_ms=_since(began),
            )
        )
        return self._for_model(tool, result)

    def _approved(
        self, tool: Tool, index: int, name: str, arguments: dict[str, JSON], key: str
    ) -> str | None:
        """None when a grant covers exactly this call (it may be made); the text the
        model reads when a person refused it (recorded, never made). Raises
        ToolApprovalNeeded when no decision covers it: the attempt stops and waits."""
        from baton.runtime.core.tool_approvals import GRANTED, TOOL_STAGE, call_subject

        step, attempt = self.request.step, self.request.attempt
        subject = call_subject(tool.name, name, arguments, step, attempt, key)
        sha256 = checksum(subject)
        for decision in self.decisions:
            if decision.get("key") != key or decision.get("sha256") != sha256:
                continue  # another call, or this call shown otherwise: not bound to it
            if decision.get("decision") == GRANTED:
                self._used.add(key)
                return None
            comment = str(decision.get("comment") or "")
            message = f"rejected by {decision.get('principal')}" + (
                f": {comment}" if comment else ""
            )
            self._record(
                ev.ToolCallFailed(
                    step=step,
                    attempt=attempt,
                    tool=tool.name,
                    name=name,
                    key=key,
                    failure=FailureClass.REJECTED.value,
                    message=message,
                )
            )
            return (
                f"Error: this call was not made: a person ({message}) refused it. "
                "Do not ask for it again unchanged."
            )
        assert tool.approval_role is not None
        voided = [
            {
                "role": str(d.get("role") or tool.approval_role),
                "stage": TOOL_STAGE,
                "principal": str(d.get("principal") or ""),
                "shown_sha256": str(d.get("sha256") or ""),
                "current_sha256": sha256,
            }
            for d in self.decisions
            if d.get("decision") == GRANTED and d.get("key") not in self._used
        ]
        request: dict[str, JSON] = {
            "tool": tool.name,
            "name": name,
            "index": index,
            "key": key,
            "arguments": arguments,
            "role": tool.approval_role,
            "sha256": sha256,
        }
        raise ToolApprovalNeeded(request, voided)

    def _execute(self, offered: Offered, arguments: dict[str, JSON], key: str) -> JSON:
        tool = offered.tool
        timeout_s = tool.timeout_ms / 1000
        if tool.kind is ToolKind.PYTHON:
            loaded = self._python_tool(tool)
            # a python function cannot be stopped: past its timeout it is abandoned
            pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"tool {tool.name}")
            try:
                return pool.submit(loaded.call, arguments).result(timeout=timeout_s)
            except concurrent.futures.TimeoutError:
                raise ToolFailure(
                    FailureClass.TIMEOUT, f"tool {tool.name!r} took more than {timeout_s:g} s"
                ) from None
            finally:
                pool.shutdown(wait=False)
        result, is_error = self._connection(tool).call_tool(
            offered.function, arguments, key, timeout_s
        )
        if is_error:  # the tool's own answer, for the model to read: not a crash
            return {"error": result}
        return result

    def _for_model(self, tool: Tool, result: JSON) -> str:
        source = f"tools.{tool.name}"
        if source not in self.untrusted:
            self.untrusted.append(source)
        text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
        return sanitize(source, text, self.budget_tokens)  # wrapped in its source tag

    def _refusal(self, name: str) -> str:
        allowed = ", ".join(self.offered()) or "none"
        tool = self._roster_tool(name)
        if tool in self.tools and tool not in self.binding.tools:
            return (
                f"agent '{self.binding.name}' may not call tool '{tool}' (its tools: "
                f"{', '.join(self.binding.tools) or 'none'})"
            )
        return f"no tool {name!r} is offered to agent '{self.binding.name}' (offered: {allowed})"

    def _roster_tool(self, name: str) -> str:
        return name.split(SEPARATOR, 1)[0]

    def _record(self, body: ev.EventBody) -> None:
        if self.host is not None:
            self.host.record([body])

    def close(self) -> None:
        """Stop every server this attempt started."""
        connections, self._connections = self._connections, {}
        for connection in connections.values():
            connection.close()


def _since(began: float) -> int:
    return round((time.monotonic() - began) * 1000)


__all__ = ["SEPARATOR", "Offered", "Toolbox", "call_key"]
