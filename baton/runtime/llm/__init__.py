"""Models as agents: the provider layer of `llm` agents (issue 11).

The agent adapter calls, per attempt:

1. `start_conversation(config.system, user_text)` on the first attempt, or
   `repair_messages(previous, reply.raw_text, issues, feedback=...,
   pointer_prefix=contract_for(schema, name).pointer_prefix)` after a rejected reply;
2. `call(config, conversation, schema, idempotency_key, schema_name=..., agent=...,
   cassette=...)` -> `LlmReply` (raises `LlmError` with its failure class);
3. `cost_usd(reply.usage, price)`.

The SDKs are imported inside the provider modules' functions, so importing this
package (as `baton lint` and `baton compile` may) loads neither `openai` nor `anthropic`.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from baton.runtime.llm.cassette import Cassette, CassetteMiss, CassetteMode, request_key
    from baton.runtime.llm.config import PROVIDERS, LlmConfig
    from baton.runtime.llm.cost import Price, cost_usd
    from baton.runtime.llm.errors import RATE_LIMITED, LlmError, TransportRetry
    from baton.runtime.llm.messages import (
        Conversation,
        Message,
        describe_errors,
        repair_messages,
        start_conversation,
    )
    from baton.runtime.llm.providers import (
        api_key_for,
        build_request,
        call,
        contract_for,
        settings_not_sent,
    )
    from baton.runtime.llm.reply import LlmReply, LlmUsage
    from baton.runtime.llm.structured import OutputContract, output_contract, strict_problems

# name -> the module that defines it. Imported on first use (PEP 562): `baton.runtime`
# reads LlmConfig from here at every start, and `baton lint` reads the strict-subset
# check, neither of which should pay for the cassette, transport and provider modules.
_EXPORTS = {
    "Cassette": "baton.runtime.llm.cassette",
    "CassetteMiss": "baton.runtime.llm.cassette",
    "CassetteMode": "baton.runtime.llm.cassette",
    "Conversation": "baton.runtime.llm.messages",
    "LlmConfig": "baton.runtime.llm.config",
    "LlmError": "baton.runtime.llm.errors",
    "LlmReply": "baton.runtime.llm.reply",
    "LlmUsage": "baton.runtime.llm.reply",
    "Message": "baton.runtime.llm.messages",
    "OutputContract": "baton.runtime.llm.structured",
    "PROVIDERS": "baton.runtime.llm.config",
    "Price": "baton.runtime.llm.cost",
    "RATE_LIMITED": "baton.runtime.llm.errors",
    "TransportRetry": "baton.runtime.llm.errors",
    "api_key_for": "baton.runtime.llm.providers",
    "build_request": "baton.runtime.llm.providers",
    "call": "baton.runtime.llm.providers",
    "contract_for": "baton.runtime.llm.providers",
    "cost_usd": "baton.runtime.llm.cost",
    "describe_errors": "baton.runtime.llm.messages",
    "output_contract": "baton.runtime.llm.structured",
    "repair_messages": "baton.runtime.llm.messages",
    "request_key": "baton.runtime.llm.cassette",
    "settings_not_sent": "baton.runtime.llm.providers",
    "start_conversation": "baton.runtime.llm.messages",
    "strict_problems": "baton.runtime.llm.structured",
}

__all__ = [
    "PROVIDERS",
    "RATE_LIMITED",
    "Cassette",
    "CassetteMiss",
    "CassetteMode",
    "Conversation",
    "LlmConfig",
    "LlmError",
    "LlmReply",
    "LlmUsage",
    "Message",
    "OutputContract",
    "Price",
    "TransportRetry",
    "api_key_for",
    "build_request",
    "call",
    "contract_for",
    "cost_usd",
    "describe_errors",
    "output_contract",
    "repair_messages",
    "request_key",
    "settings_not_sent",
    "start_conversation",
    "strict_problems",
]


if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
