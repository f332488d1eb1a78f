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
`baton` runs from. A function whose first parameter is annotated `Request[Model]`, with
`Model` a pydantic model, receives `req.input` as `Model.model_validate(input)`; any other
function receives the input as JSON.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import inspect
import sys
import threading
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from baton.runtime.agents.envelope import AgentCall, AgentFailure, AgentReply, plain, reply_from
from baton.runtime.agents.threads import Overran, run_with_timeout
from baton.runtime.model import FailureClass, Request

_functions: dict[tuple[str, str], Callable[..., Any]] = {}
_input_models: dict[Callable[..., Any], type[Any] | None] = {}
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


def input_model(function: Callable[..., Any]) -> type[Any] | None:
    """The pydantic model a function's first parameter declares as `Request[Model]`.

    >>> from pydantic import BaseModel
    >>> class Topic(BaseModel):
    ...     topic: str
    >>> def handle(req: Request[Topic]) -> None: ...
    >>> def untyped(req): ...
    >>> input_model(handle) is Topic, input_model(untyped)
    (True, None)
    """
    if function in _input_models:
        return _input_models[function]
    model = None
    try:
        first = next(iter(inspect.signature(function).parameters.values()), None)
        hints = typing.get_type_hints(function) if first is not None else {}
    except Exception:  # annotations are code too (a forward reference to nothing)
        hints, first = {}, None
    annotation = hints.get(first.name) if first is not None else None
    if typing.get_origin(annotation) is Request:
        [argument] = typing.get_args(annotation) or [None]
        if isinstance(argument, type) and callable(getattr(argument, "model_validate", None)):
            model = argument
    with _lock:
        _input_models[function] = model
    return model


def _typed(call: AgentCall, model: type[Any], target: str) -> Request[Any]:
    """The request with its input parsed into the model the agent declares."""
    from pydantic import ValidationError

    try:
        typed = model.model_validate(plain(call.request.input))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in error.errors()[:5]
        )
        raise AgentFailure(
            FailureClass.AGENT_ERROR,
            f"the input of step '{call.request.step}' does not fit {model.__name__}, the "
            f"model python agent {target!r} declares for it: {problems}",
        ) from None
    return dataclasses.replace(call.request, input=typed)


def call_python(call: AgentCall) -> AgentReply:
    """Call the function with the request; see the module docstring for what it returns."""
    target = call.binding.target
    if not isinstance(target, str):
        raise AgentFailure(FailureClass.AGENT_ERROR, "a python agent's target is one string")
    function = resolve(target, call.root)
    model = input_model(function)
    request = _typed(call, model, target) if model is not None else call.request

    def invoke() -> Any:
        result = function(request)
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
