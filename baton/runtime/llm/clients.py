"""SDK clients, kept per (URL, timeout, key) so a call does not pay for building one.

The cache is keyed by a digest of the key, not the key, and a rotated key (a new value
in the same variable) gets a new client. Small and cleared when full: a process talks to
a handful of endpoints.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

from baton.runtime.llm.config import LlmConfig

MAX_CLIENTS = 32


class ClientCache:
    """Clients built by `factory(config, api_key)` on first use."""

    def __init__(self, factory: Callable[[LlmConfig, str], Any]) -> None:
        self._factory = factory
        self._clients: dict[tuple[str, float, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, config: LlmConfig, api_key: str) -> Any:
        digest = hashlib.sha256(api_key.encode("utf-8")).hexdigest()
        cache_key = (config.url, float(config.timeout_s), digest)
        with self._lock:
            client = self._clients.get(cache_key)
            if client is None:
                if len(self._clients) >= MAX_CLIENTS:
                    self._clients.clear()
                client = self._clients[cache_key] = self._factory(config, api_key)
            return client

    def clear(self) -> None:
        with self._lock:
            self._clients.clear()
