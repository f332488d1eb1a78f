"""Cassettes: record model calls once, replay them for free, deterministically.

A cassette is a directory of plain JSON files, one per request, named by the request's
key: `<key>.json` holding the provider, the URL path, the request body and the response
(body and request id), indented so a reviewer can read a conversation in a diff.

The key is the sha256 of the canonical JSON (RFC 8785, runtime.canonical) of
`{"provider", "path", "body"}`: no host (a conversation recorded against one server
replays against any), no headers (the key and the attempt's idempotency key travel in
headers), and none of the body fields that differ from run to run
(`RUN_SPECIFIC_FIELDS`; Baton sends none of them today). So a recorded run replays under
a new run id, and two requests that differ in any byte of what the model sees do not
share an entry.

Replay makes no network call and needs no key; a request with no entry fails with
`CassetteMiss` naming the key. Record calls the provider and writes the entry
atomically (temporary file, fsync, rename): a crash never leaves half an entry. The API
key is never in an entry (it is only in headers); an entry whose response quotes it is
scrubbed before it is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from baton.runtime.canonical import canonical_json
from baton.runtime.llm.errors import AGENT_ERROR, LlmError
from baton.runtime.llm.redact import scrub
from baton.runtime.llm.transport import WireRequest, WireResponse

FORMAT_VERSION = 1
# Body fields that may carry per-run values (end-user ids, tags, cache keys): never part
# of the key. Baton does not send them; a future field of that kind must be added here.
RUN_SPECIFIC_FIELDS = frozenset({"metadata", "user", "safety_identifier", "prompt_cache_key"})


class CassetteMode(StrEnum):
    RECORD = "record"
    REPLAY = "replay"


class CassetteMiss(LlmError):
    """Replay found no entry for a request: the cassette was recorded from other specs,
    prompts or inputs (or not at all). `key` names the missing entry."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(AGENT_ERROR, message, retryable=False)
        self.key = key

    def __reduce__(self) -> tuple[Any, ...]:
        return (CassetteMiss, (self.key, self.message))


def request_key(request: WireRequest) -> str:
    """The cassette key of a request.

    >>> body = {"model": "m", "messages": [], "user": "run-42"}
    >>> request_key(WireRequest("openai", "/v1/chat/completions", body)) == request_key(
    ...     WireRequest("openai", "/v1/chat/completions", {"messages": [], "model": "m"}))
    True
    """
    body = {name: value for name, value in request.body.items() if name not in RUN_SPECIFIC_FIELDS}
    canonical = canonical_json({"provider": request.provider, "path": request.path, "body": body})
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True)
class Cassette:
    """A cassette directory and what to do with it."""

    directory: Path
    mode: CassetteMode

    def __post_init__(self) -> None:
        object.__setattr__(self, "directory", Path(self.directory))
        object.__setattr__(self, "mode", CassetteMode(self.mode))

    def entry_path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def replay(self, request: WireRequest, key: str) -> WireResponse:
        """The recorded response to `request`; CassetteMiss when there is none."""
        path = self.entry_path(key)
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            raise CassetteMiss(
                key,
                f"the cassette {str(self.directory)!r} has no entry {key} for this "
                f"{request.provider} request (POST {request.path}); record it with "
                "--cassette-mode record",
            ) from None
        try:
            entry = json.loads(text)
            response = entry["response"]
            return WireResponse(response["body"], response.get("request_id"))
        except (ValueError, KeyError, TypeError) as error:
            raise LlmError(
                AGENT_ERROR,
                f"the cassette entry {str(path)!r} is not a Baton cassette entry ({error})",
                retryable=False,
            ) from None

    def record(
        self,
        request: WireRequest,
        key: str,
        response: WireResponse,
        secrets: tuple[str, ...] = (),
    ) -> Path:
        """Write the entry for `request` (replacing an older one), atomically."""
        entry = {
            "baton_cassette": FORMAT_VERSION,
            "key": key,
            "provider": request.provider,
            "path": request.path,
            "request": request.body,
            "response": {"request_id": response.request_id, "body": response.body},
        }
        text = scrub(json.dumps(entry, indent=2, ensure_ascii=False) + "\n", secrets)
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.entry_path(key)
        _write_atomically(path, text)
        return path


def _write_atomically(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)
