"""Agent adapters: call one agent for one attempt, whatever its kind.

`call_agent(AgentCall) -> AgentReply` is the one entry point. Every fault of the agent
(it raised, exited non-zero, answered HTTP 500, timed out, replied with something that
is not JSON or not an envelope) is an `AgentFailure` carrying its `FailureClass`;
anything else that escapes is a bug in Baton.

The reply's output is *not* checked against the handoff schema here: the driver does
that (runtime.validate), so the event log can record the output it received and the
reasons it was rejected as separate facts.

Kinds: python (python_agent), command (command_agent), http (http_agent), llm
(llm_agent), builtin (builtin, demo).
"""

from __future__ import annotations

from baton.runtime.agents.builtin import call_builtin
from baton.runtime.agents.command_agent import call_command
from baton.runtime.agents.envelope import AgentCall, AgentFailure, AgentReply, reply_from
from baton.runtime.agents.http_agent import call_http
from baton.runtime.agents.python_agent import call_python
from baton.runtime.model import AgentKind


def call_agent(call: AgentCall) -> AgentReply:
    """Call the agent once; raises AgentFailure for any fault of the agent."""
    kind = call.binding.kind
    if kind == AgentKind.PYTHON:
        return call_python(call)
    if kind == AgentKind.COMMAND:
        return call_command(call)
    if kind == AgentKind.HTTP:
        return call_http(call)
    if kind == AgentKind.LLM:
        from baton.runtime.agents.llm_agent import call_llm  # loads no SDK until a call

        return call_llm(call)
    if kind == AgentKind.BUILTIN:
        # the bare output, always: `echo` of {"output": 1} must not read as an envelope
        return reply_from(AgentReply(call_builtin(call)), call.binding, bare_allowed=True)
    raise ValueError(f"unknown agent kind {kind!r}")


__all__ = ["AgentCall", "AgentFailure", "AgentReply", "call_agent"]
