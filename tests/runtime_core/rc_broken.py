"""Python agents that raise, and workflows that run them (`baton run rc_broken:NAME`):
what an agent's exception leaves in the event log."""

from __future__ import annotations

import dataclasses

from rc_workflows import AGENTS, text_step, workflow

from baton.runtime.model import AgentBinding, AgentKind, Request, Workflow


def explode(request: Request[dict[str, str]]) -> dict[str, str]:
    """Fails two calls deep in the agent's own code."""
    return _parse(request.input["text"])


def _parse(text: str) -> dict[str, str]:
    raise ValueError(f"cannot parse {text!r}")


def explode_deeply(request: Request[dict[str, str]]) -> dict[str, str]:
    """Fails at the bottom of a deep recursion: a traceback far over any sane bound."""
    return _descend(300)


def _descend(depth: int) -> dict[str, str]:
    if depth == 0:
        raise RuntimeError("bottom reached " + "x" * 20_000)
    return _descend(depth - 1)


def _python_workflow(name: str, target: str) -> Workflow:
    agents = (*AGENTS, AgentBinding("exploder", AgentKind.PYTHON, target))
    return dataclasses.replace(workflow(name, text_step("parse", "exploder")), agents=agents)


BROKEN = _python_workflow("broken", "rc_broken:explode")
DEEP = _python_workflow("deep", "rc_broken:explode_deeply")
