"""Workflows whose llm agent calls tools (runtime.tools), run as `baton run
tool_flows:NAME`: a python tool (`calc`), a real MCP stdio server (`ledger`, an
external effect) and a tool the agent may not call (`mail`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

from llm_flows import BRIEF, INPUTS, RETRY, WEBSTER

from baton.runtime.model import (
    Effect,
    FailureClass,
    Step,
    Template,
    Tool,
    ToolKind,
    Workflow,
)

SERVER = str(Path(__file__).resolve().parent / "tool_servers" / "ledger_server.py")

CALC = Tool("calc", ToolKind.PYTHON, "tool_functions:add", description="Add two numbers.")
LEDGER = Tool(
    "ledger",
    ToolKind.MCP_STDIO,
    (sys.executable, SERVER),
    effect=Effect.EXTERNAL,
    timeout_ms=20_000,
)
MAIL = Tool("mail", ToolKind.PYTHON, "tool_functions:send_mail", effect=Effect.EXTERNAL)
CRASHING = Tool("ledger", ToolKind.MCP_STDIO, (sys.executable, SERVER, "--crash"))

AGENT = replace(WEBSTER, tools=("calc", "ledger"), max_tool_calls=4)


def research(*tools: Tool) -> Workflow:
    step = Step(
        "research",
        "tools.yaml:10",
        agent="webster",
        input={"topic": "{{ inputs.topic }}"},
        output=BRIEF,
        retry=replace(RETRY, on=(*RETRY.on, FailureClass.TOOL_ERROR, FailureClass.TIMEOUT)),
        prompt=Template("Research {{ inputs.topic }} with your tools.", spec="tools.yaml:12"),
    )
    return Workflow(
        name="tool_research",
        version=1,
        spec_path="tools.yaml",
        spec_sha256="0" * 64,
        steps=(step,),
        generations=(("research",),),
        inputs_schema=INPUTS,
        agents=(AGENT,),
        result="research",
        tools=tools,
    )


RESEARCH = research(CALC, LEDGER, MAIL)
# the same server over streamable HTTP, at the URL the test started it on
HTTP_LEDGER = Tool(
    "ledger", ToolKind.MCP_HTTP, os.environ.get("BATON_TEST_MCP_URL", "http://127.0.0.1:9/mcp")
)
OVER_HTTP = research(CALC, HTTP_LEDGER)
# a ledger whose calls may take one second at most
TIMES_OUT = research(CALC, replace(LEDGER, timeout_ms=1000))
CRASH_AT_START = research(CALC, CRASHING)

# the ledger's every call waits for a person with role manager (alice holds it; bob is
# a clerk): runtime.core.tool_approvals
APPROVED_LEDGER = replace(LEDGER, approval_role="manager")
APPROVED = replace(
    research(CALC, APPROVED_LEDGER),
    name="tool_approval",
    approvers=(("manager", ("alice",)), ("clerk", ("bob",))),
)
