"""`python: "module:function"` tools: the function's type hints are its JSON Schema.

    def evaluate(expression: str, precision: int = 6) -> float:
        '''Evaluate an arithmetic expression.'''

is offered to the model as a tool named after the roster entry, described by the
docstring, with the schema `{"type": "object", "properties": {"expression": {"type":
"string"}, "precision": {"type": "integer", "default": 6}}, "required": ["expression"]}`.
The model's arguments are validated against the same pydantic model before the call, so
the function gets the types its hints promise. Imported like python agents (the
workflow's root first on sys.path).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from baton.runtime.agents.envelope import AgentFailure, json_problem, plain
from baton.runtime.model import JSON, FailureClass
from baton.runtime.tools.errors import ToolFailure


@dataclass(frozen=True)
class PythonTool:
    """A loaded python tool: the function, its arguments' model and its schema."""

    function: Callable[..., Any]
    model: type[Any]
    schema: dict[str, JSON]
    description: str

    def call(self, arguments: dict[str, JSON]) -> JSON:
        """Validate `arguments`, call the function; its return value as JSON."""
        import pydantic

        try:
            validated = self.model.model_validate(arguments)
        except pydantic.ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in error.errors()
            )
            raise ToolFailure(FailureClass.TOOL_ERROR, f"invalid arguments: {problems}") from None
        values = {name: getattr(validated, name) for name in type(validated).model_fields}
        try:
            result = plain(self.function(**values))
        except Exception as error:  # the tool's own code: anything can go wrong
            raise ToolFailure(
                FailureClass.TOOL_ERROR, f"raised {type(error).__name__}: {error}"
            ) from error
        problem = json_problem(result, "result")
        if problem is not None:
            raise ToolFailure(FailureClass.TOOL_ERROR, f"returned what is not JSON: {problem}")
        return result


def load(target: str, root: str = "") -> PythonTool:
    """Import `module:function` and read its signature; ToolFailure when it cannot."""
    from baton.runtime.agents.python_agent import resolve

    try:
        function = resolve(target, root)
    except AgentFailure as failure:
        raise ToolFailure(
            FailureClass.TOOL_ERROR, failure.message.replace("agent", "tool")
        ) from None
    model = arguments_model(function, target)
    schema = model.model_json_schema()
    schema.pop("title", None)
    return PythonTool(function, model, schema, inspect.getdoc(function) or "")


def arguments_model(function: Callable[..., Any], target: str) -> type[Any]:
    """A pydantic model of the function's parameters (every one needs a type hint).

    >>> def add(a: int, b: int = 2) -> int: return a + b
    >>> arguments_model(add, "m:add").model_json_schema()["required"]
    ['a']
    """
    import pydantic

    try:
        hints = typing.get_type_hints(function)
    except Exception as error:  # unresolvable annotations
        raise ToolFailure(
            FailureClass.TOOL_ERROR, f"python tool {target!r}: cannot read its type hints: {error}"
        ) from None
    fields: dict[str, Any] = {}
    for name, parameter in inspect.signature(function).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if name not in hints:
            raise ToolFailure(
                FailureClass.TOOL_ERROR,
                f"python tool {target!r}: parameter {name!r} has no type hint (the hints "
                "are the tool's schema)",
            )
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[name] = (hints[name], default)
    config = pydantic.ConfigDict(extra="forbid")
    model: type[Any] = pydantic.create_model(
        f"{getattr(function, '__name__', 'tool')}_arguments", __config__=config, **fields
    )
    return model
