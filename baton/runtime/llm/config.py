"""`LlmConfig`: how to reach one model, as plain data.

Codegen emits it into compiled workflows and it crosses Temporal, so it holds only JSON
values (`to_json` / `from_json` round-trip) and never a key: `api_key_env` is the NAME of
the environment variable the key is read from, at call time.

The values were checked by the linter (provider, model, ranges); the checks here are a
last guard against a bug upstream and raise ValueError.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

PROVIDERS = ("anthropic", "openai")

# Passed to the SDKs explicitly: left to them, OPENAI_BASE_URL / ANTHROPIC_BASE_URL in the
# environment would silently send a workflow's prompts somewhere its spec does not say.
DEFAULT_BASE_URLS = {
    "anthropic": "https://api.anthropic.com",
    "openai": "https://api.openai.com/v1",
}

# The variable read when the spec names none and the agent talks to the public API
# (a local server given as `base_url` usually needs no key, so none is read for it).
DEFAULT_KEY_VARIABLES = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
}

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_TRANSPORT_RETRIES = 2
ANTHROPIC_DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; OpenAI does not


@dataclass(frozen=True)
class LlmConfig:
    """One `run.llm` block of a roster agent (SPEC.md), resolved.

    >>> config = LlmConfig("openai", "gpt-4.1-mini", temperature=0.2)
    >>> LlmConfig.from_json(config.to_json()) == config
    True
    >>> config.url
    'https://api.openai.com/v1'
    """

    provider: str
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    max_concurrency: int | None = None  # calls in flight for this agent, per process
    timeout_s: float = DEFAULT_TIMEOUT_S  # one HTTP call
    transport_retries: int = DEFAULT_TRANSPORT_RETRIES  # 429 / 5xx / connection, per call

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ValueError(
                f"unknown provider {self.provider!r} (providers: {', '.join(PROVIDERS)})"
            )
        if not self.model:
            raise ValueError("model must not be empty")
        if isinstance(self.stop, list):  # from JSON
            object.__setattr__(self, "stop", tuple(self.stop))
        _check_range("temperature", self.temperature, 0.0, 2.0)
        _check_range("top_p", self.top_p, 0.0, 1.0)
        _check_positive_int("max_tokens", self.max_tokens)
        _check_positive_int("max_concurrency", self.max_concurrency)
        if not (isinstance(self.timeout_s, int | float) and 0 < self.timeout_s < math.inf):
            raise ValueError(f"timeout_s must be a positive number, not {self.timeout_s!r}")
        if not isinstance(self.transport_retries, int) or self.transport_retries < 0:
            raise ValueError(f"transport_retries must be >= 0, not {self.transport_retries!r}")

    @property
    def url(self) -> str:
        """The base URL calls go to: `base_url`, or the provider's public API."""
        return (self.base_url or DEFAULT_BASE_URLS[self.provider]).rstrip("/")

    @property
    def key_variable(self) -> str | None:
        """The environment variable holding the key; None when no key is sent (a local
        server given as `base_url` with no `api_key_env`)."""
        if self.api_key_env:
            return self.api_key_env
        return None if self.base_url else DEFAULT_KEY_VARIABLES[self.provider]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LlmConfig:
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown LlmConfig fields: {', '.join(unknown)}")
        values = dict(data)
        if "stop" in values:
            values["stop"] = tuple(values["stop"])
        return cls(**values)


def _check_range(name: str, value: float | None, low: float, high: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, not {value!r}")


def _check_positive_int(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, not {value!r}")
