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
