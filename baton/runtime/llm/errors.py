"""How a model call fails: `LlmError`, its failure class, and the transport retries made.

The failure classes are the runtime's (`FailureClass` values) plus `rate_limited`, which
the runtime does not have yet: the integration adds `FailureClass.RATE_LIMITED` with the
same string, so `FailureClass(error.failure)` works for every error raised here.

Every message is built by Baton (never an SDK exception's text, which may quote response
bodies and, through them, a key) and scrubbed of the API key before it is raised
(runtime.llm.redact).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from baton.runtime.model import FailureClass

RATE_LIMITED = "rate_limited"  # HTTP 429, retries exhausted (or the wait asked for is too long)
AGENT_ERROR = FailureClass.AGENT_ERROR.value  # 5xx, connection, other 4xx, auth, bad reply
TIMEOUT = FailureClass.TIMEOUT.value  # one HTTP call exceeded the agent's timeout
FAILURE_CLASSES = (AGENT_ERROR, RATE_LIMITED, TIMEOUT)


@dataclass(frozen=True)
class TransportRetry:
    """One retry Baton made inside a call: why (`status` None for a connection error)
    and how long it waited first. The integrator records each as an event."""

    status: int | None
    reason: str
    wait_s: float

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "wait_s": self.wait_s}


class LlmError(Exception):
    """A model call failed; `failure` is the attempt's failure class (a string, see above).

    `retryable` is False where another attempt of the same request cannot help (the key
    was refused or is missing, a 4xx other than 408/429, a cassette has no entry); the
    step's retry policy still decides, this is advice for it. `retries` lists the
    transport retries made before giving up.
    """

    def __init__(
        self,
        failure: str,
        message: str,
        *,
        retryable: bool = True,
        status: int | None = None,
        retries: tuple[TransportRetry, ...] = (),
    ) -> None:
        if failure not in FAILURE_CLASSES:
            raise ValueError(f"unknown failure class {failure!r}")
        super().__init__(failure, message)
        self.failure = failure
        self.message = message
        self.retryable = retryable
        self.status = status
        self.retries = retries

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword arguments do not survive the default pickling of exceptions (Temporal
        # activities and worker processes send failures across processes)
        return (
            _rebuild,
            (type(self), self.failure, self.message, self.retryable, self.status, self.retries),
        )

    def __str__(self) -> str:
        return f"{self.failure}: {self.message}"


def _rebuild(
    cls: type[LlmError],
    failure: str,
    message: str,
    retryable: bool,
    status: int | None,
    retries: tuple[TransportRetry, ...],
) -> LlmError:
    error = cls.__new__(cls)
    LlmError.__init__(error, failure, message, retryable=retryable, status=status, retries=retries)
    return error
