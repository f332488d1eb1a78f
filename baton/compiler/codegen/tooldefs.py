"""IR tools -> `rt.Tool(...)` for a workflow's `tools=`, and an agent binding's tool ACL
(`tools=`, `max_tool_calls=`)."""

from __future__ import annotations

import os
from pathlib import Path

import baton.runtime as rt
from baton.compiler import ir
from baton.compiler.codegen import literals
from baton.compiler.codegen.layout import Doc, sequence
from baton.compiler.codegen.stepdefs import (
    CodegenError,
    construct,
    enum_value,
    member,
    strings,
)
from baton.compiler.files import absolute


def agent_tool_keywords(agent: ir.Agent) -> dict[str, Doc]:
    """`tools=(...)` and `max_tool_calls=` of an agent binding, when the spec sets them."""
    keywords: dict[str, Doc] = {}
    if agent.tools:
        keywords["tools"] = strings(sorted({name.value for name in agent.tools}))
    if agent.max_tool_calls is not None:
        keywords["max_tool_calls"] = literals.value(agent.max_tool_calls)
    return keywords


def runtime_tool(tool: ir.Tool, root: str = ".") -> rt.Tool:
    """The runtime's view of a roster tool (the linter has rejected a tool with no
    source, B002)."""
    if not tool.kind:
        raise CodegenError(f"tool {tool.name!r} names neither an MCP server nor a python function")
    directory = ""
    if tool.kind == "mcp_stdio":
        defined_in = absolute(Path(tool.span.path).parent)
        directory = os.path.relpath(defined_in, absolute(root)).replace(os.sep, "/")
        directory = "" if directory == "." else directory
    return rt.Tool(
        name=tool.name,
        kind=enum_value(rt.ToolKind, tool.kind),
        target=tool.target,
        only=tuple(name.value for name in tool.only),
        effect=enum_value(rt.Effect, tool.effect),
        approval_role=tool.approval_role.value if tool.approval_role else None,
        timeout_ms=tool.timeout_ms,
        description=tool.description,
        directory=directory,
    )


def tool(value: rt.Tool) -> Doc:
    """`rt.Tool(...)`, the runtime's defaults left out."""
    target = value.target
    return construct(
        rt.Tool,
        {
            "name": (value.name, literals.value(value.name)),
            "kind": (value.kind, member(value.kind)),
            "target": (
                target,
                strings(target) if isinstance(target, tuple) else literals.value(target),
            ),
            "only": (value.only, strings(value.only)),
            "effect": (value.effect, member(value.effect)),
            "approval_role": (value.approval_role, literals.value(value.approval_role)),
            "timeout_ms": (value.timeout_ms, literals.value(value.timeout_ms)),
            "description": (value.description, literals.value(value.description)),
            "directory": (value.directory, literals.value(value.directory)),
        },
    )


def tools(roster: ir.Roster, root: str = ".") -> Doc:
    """`(rt.Tool(...), ...)`: every tool of the roster, by name."""
    return sequence(
        "()", [tool(runtime_tool(roster.tools[name], root)) for name in sorted(roster.tools)]
    )
