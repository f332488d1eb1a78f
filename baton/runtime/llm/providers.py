"""`call()`: one model call for one attempt, whatever the provider.

    conversation + handoff schema
        -> the provider's request body (build_request; no key, no run-specific field)
        -> cassette replay, or: key from the environment, concurrency slot, HTTP with
           Baton's retries, cassette record
        -> the provider's response read into an LlmReply (output not yet validated)

The key is read from the environment at call time (never stored in config, cassette or
message) and a missing variable is refused before any request is sent.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from types import ModuleType

from baton.runtime.llm import anthropic_provider, openai_provider
from baton.runtime.llm.cassette import Cassette, CassetteMode, request_key
from baton.runtime.llm.concurrency import limiter
from baton.runtime.llm.config import LlmConfig
from baton.runtime.llm.errors import AGENT_ERROR, LlmError, TransportRetry
from baton.runtime.llm.messages import Conversation
from baton.runtime.llm.redact import display_url
from baton.runtime.llm.reply import LlmReply
from baton.runtime.llm.structured import DEFAULT_NAME, OutputContract, output_contract
from baton.runtime.llm.transport import CallSite, WireRequest, WireResponse, send_with_retries
from baton.runtime.model import JSON

PROVIDERS: dict[str, ModuleType] = {
    "anthropic": anthropic_provider,
    "openai": openai_provider,
}
# Sent to a keyless server (a local one, no api_key_env): both SDKs insist on a key.
NO_KEY = "baton-no-key"

_contracts: dict[tuple[int, str], tuple[JSON, OutputContract]] = {}
_contracts_lock = threading.Lock()
MAX_CONTRACTS = 256


def call(
    config: LlmConfig,
    conversation: Conversation,
    schema: JSON,
    idempotency_key: str,
    *,
    schema_name: str = DEFAULT_NAME,
    agent: str | None = None,
    api_key: str | None = None,
    environ: Mapping[str, str] | None = None,
    cassette: Cassette | None = None,
    on_retry: Callable[[TransportRetry], None] | None = None,
) -> LlmReply:
    """Ask the model once; raises LlmError (its `failure` is the attempt's class).

    `schema` is the handoff schema, `schema_name` its name (`brief@2`). `agent` names the
    concurrency pool (`config.max_concurrency`); `api_key`, when given, is used instead
    of the environment (`environ`, default `os.environ`). `on_retry` hears of each
    transport retry before its wait.
    """
    contract = contract_for(schema, schema_name)
    provider = PROVIDERS[config.provider]
    request = build_request(config, conversation, contract)
    key = request_key(request)
    if cassette is not None and cassette.mode == CassetteMode.REPLAY:
        response = cassette.replay(request, key)
        return _reply(config, contract, response, key, (), replayed=True)
    secret = api_key if api_key is not None else api_key_for(config, environ)
    sent_key = secret or NO_KEY
    site = CallSite(
        config.provider,
        display_url(config.url),
        config.key_variable,
        config.timeout_s,
        (secret,) if secret else (),
    )

    def send() -> WireResponse:
        response: WireResponse = provider.send(config, request, idempotency_key, sent_key)
        return response

    response, retries = send_with_retries(
        send,
        site,
        config.transport_retries,
        on_retry=on_retry,
        slot=lambda: limiter(agent or _pool_name(config), config.max_concurrency),
    )
    if cassette is not None:
        try:
            cassette.record(request, key, response, site.secrets)
        except OSError as error:
            failed = (
                f"cannot write the cassette entry {key} in {str(cassette.directory)!r}: {error}"
            )
        else:
            return _reply(config, contract, response, key, retries, replayed=False)
        # a recording that silently lost an entry would fail its replay much later
        raise LlmError(AGENT_ERROR, failed, retryable=False)
    return _reply(config, contract, response, key, retries, replayed=False)


def build_request(
    config: LlmConfig, conversation: Conversation, contract: OutputContract
) -> WireRequest:
    """The request `call` would send (for `baton run --dry-run`, and cassette keys)."""
    request: WireRequest = PROVIDERS[config.provider].build_request(config, conversation, contract)
    return request


def api_key_for(config: LlmConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """The API key from the agent's variable, read now; None when the agent sends no key
    (a local server with no `api_key_env`). A variable that is unset or empty is refused
    here, before any request."""
    variable = config.key_variable
    if variable is None:
        return None
    env = os.environ if environ is None else environ
    value = env.get(variable, "")
    if not value.strip():
        raise LlmError(
            AGENT_ERROR,
            f"the environment variable {variable!r} (the API key of this {config.provider} "
            f"agent) is {'empty' if variable in env else 'not set'}; "
            "no request was sent",
            retryable=False,
        )
    return value


def settings_not_sent(config: LlmConfig) -> list[str]:
    """The settings of `config` its provider's API does not take (and Baton therefore
    does not send): for the linter's warning.

    >>> settings_not_sent(LlmConfig("anthropic", "claude-x", temperature=0.2, seed=7))
    ['seed', 'temperature']
    """
    names: tuple[str, ...] = PROVIDERS[config.provider].NOT_SENT
    return [name for name in names if getattr(config, name) is not None]


def contract_for(schema: JSON, name: str = DEFAULT_NAME) -> OutputContract:
    """`output_contract(schema, name)`, computed once per schema object."""
    cache_key = (id(schema), name)
    known = _contracts.get(cache_key)
    if known is not None and known[0] is schema:
        return known[1]
    contract = output_contract(schema, name)
    with _contracts_lock:
        if len(_contracts) >= MAX_CONTRACTS:
            _contracts.clear()
        # the schema is kept alive with its contract, so its id cannot be reused
        _contracts[cache_key] = (schema, contract)
    return contract


def _reply(
    config: LlmConfig,
    contract: OutputContract,
    response: WireResponse,
    key: str,
    retries: tuple[TransportRetry, ...],
    *,
    replayed: bool,
) -> LlmReply:
    answer = PROVIDERS[config.provider].parse_response(response.body, contract, config)
    return LlmReply(
        output=answer.output,
        raw_text=answer.raw_text,
        parse_error=answer.parse_error,
        usage=answer.usage,
        model=answer.model,
        request_id=response.request_id,
        stop_reason=answer.stop_reason,
        request_key=key,
        retries=retries,
        replayed=replayed,
        tool_calls=answer.tool_calls,
    )


def _pool_name(config: LlmConfig) -> str:
    return f"{config.provider} {config.url} {config.model}"
