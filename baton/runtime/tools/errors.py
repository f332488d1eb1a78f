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
