"""How a tool call fails: a class the step's retry policy knows, and Baton's message."""

from __future__ import annotations

from typing import Any

from baton.runtime.model import FailureClass


class ToolFailure(Exception):
    """A tool could not be started, listed or called. `failure`: `tool_error` (a server
    that would not start or crashed, a python tool that raised) or `timeout`."""

    def __init__(self, failure: FailureClass, message: str) -> None:
        super().__init__(failure, message)
        self.failure = FailureClass(failure)
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.failure, self.message))

    def __str__(self) -> str:
        return f"{self.failure.value}: {self.message}"


class ToolApprovalNeeded(Exception):
    """The model asked for a call of a tool with `approval:` that no decision covers: the
    attempt stops here and the step waits for a person (runtime.core.tool_approvals).

    `request`: the fields of its `tool_approval_requested` but `principals` (the driver
    knows the roster); `voided`: an `approval_voided`'s fields for each grant the
    attempt did not use; `usage`: what the model calls so far cost (set on the way out
    by the llm adapter)."""

    def __init__(
        self,
        request: dict[str, Any],
        voided: list[dict[str, Any]] | None = None,
        usage: Any = None,
    ) -> None:
        super().__init__(request, voided, usage)
        self.request = request
        self.voided = list(voided or [])
        self.usage = usage

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.request, self.voided, self.usage))

    def __str__(self) -> str:
        return f"tool call {self.request.get('name')!r} waits for an approval"
