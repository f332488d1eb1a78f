"""`python: "package.module:function"`: an agent called in-process.

The function receives the `Request` and returns the bare output, a pydantic model, an
envelope dict, or an `AgentReply`; it may be `async`. It runs in a worker thread so its
timeout can be enforced, but a thread cannot be killed: an agent that overruns keeps
running in the background (its result is dropped, the attempt is a `timeout`). Agents
that must be stoppable belong in a `command` agent, which runs in its own process group.

An agent may raise `AgentFailure` itself to choose its failure class (for example
`malformed_output` for an answer it knows is unusable); any other exception is an
`agent_error`.

The module is imported with the workflow's root (the spec set's directory) first on
`sys.path`, so `python: "myagents:shout"` finds `myagents.py` next to the specs wherever
`baton` runs from.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from baton.runtime.agents.envelope import AgentCall, AgentFailure, AgentReply, reply_from
from baton.runtime.agents.threads import Overran, run_with_timeout
from baton.runtime.model import FailureClass

_functions: dict[tuple[str, str], Callable[..., Any]] = {}
# sys.path is the process's: one import at a time, and an import may resolve another agent
_lock = threading.RLock()


def resolve(target: str, root: str = "") -> Callable[..., Any]:
    """The function a target names, imported once per root and cached (failures are not).

    A module already imported under the same name (from another root, or installed) is
    the one Python hands back: module names are process-wide.
    """
    found = _functions.get((root, target))
    if found is not None:
        return found
    module_name, colon, attribute = target.partition(":")
    if not colon or not module_name or not attribute:
        raise AgentFailure(
            FailureClass.AGENT_ERROR,
            f"python agent target {target!r} must be 'package.module:function'",
        )
    with _lock:
        try:
            _root_first(root)
            loaded: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                loaded = getattr(loaded, part)
        except Exception as error:  # an import runs arbitrary code: anything can go wrong
            raise AgentFailure(
                FailureClass.AGENT_ERROR,
                f"cannot load python agent {target!r}: {type(error).__name__}: {error}",
            ) from error
        if not callable(loaded):
            raise AgentFailure(FailureClass.AGENT_ERROR, f"python agent {target!r} is not callable")
        function: Callable[..., Any] = loaded
        _functions[(root, target)] = function
    return function


def _root_first(root: str) -> None:
    """Put the workflow's root at the head of sys.path (once there, it stays: an agent
    may import lazily, at its first call)."""
    if not root:
        return
    entry = str(Path(root).absolute())
    if sys.path[:1] == [entry]:
        return
    if entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)
    importlib.invalidate_caches()  # a finder may have cached the directory before its files


def call_python(call: AgentCall) -> AgentReply:
    """Call the function with the request; see the module docstring for what it returns."""
    target = call.binding.target
    if not isinstance(target, str):
        raise AgentFailure(FailureClass.AGENT_ERROR, "a python agent's target is one string")
    function = resolve(target, call.root)

    def invoke() -> Any:
        result = function(call.request)
        if inspect.isawaitable(result):
            return asyncio.run(_awaited(result))
        return result

    try:
        raw = run_with_timeout(invoke, call.timeout_s)
    except Overran:
        raise AgentFailure(
            FailureClass.TIMEOUT,
            f"python agent {target!r} did not return within {call.timeout_ms} ms "
            "(it cannot be killed and may still be running)",
        ) from None
    except AgentFailure:
        raise
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        raise AgentFailure(
            FailureClass.AGENT_ERROR,
            f"python agent {target!r} raised {type(error).__name__}: {error}",
        ) from error
    return reply_from(raw, call.binding, bare_allowed=True)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
