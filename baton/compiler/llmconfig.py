"""An llm agent's settings (IR) as the runtime holds them: `rt.LlmConfig`.

One translation for the linter (which asks the runtime's provider layer what it would do
with the config) and codegen (which writes the config into the compiled module), so the
two cannot disagree.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from baton.compiler import ir

if TYPE_CHECKING:
    import baton.runtime as rt


def llm_config(settings: ir.LlmSettings) -> rt.LlmConfig | None:
    """The runtime's config for `settings`; None when a value is out of the runtime's
    range (an invalid spec: rule B002 has said so, and nothing is compiled).

    >>> span = ir.Span("roster.yaml", 3, 7)
    >>> llm_config(ir.LlmSettings("openai", "m", span, timeout_ms=1500)).timeout_s
    1.5
    >>> print(llm_config(ir.LlmSettings("openai", "m", span, temperature=3.0)))
    None
    """
    # imported here: a spec set without llm agents lints without loading the runtime
    from baton.runtime import LlmConfig

    try:
        config = LlmConfig(
            provider=settings.provider,
            model=settings.model,
            base_url=settings.base_url,
            api_key_env=settings.api_key_env,
            system=settings.system,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            top_p=settings.top_p,
            seed=settings.seed,
            stop=settings.stop,
            max_concurrency=settings.max_concurrency,
        )
        # the two settings with a runtime default: left out, the runtime's holds
        if settings.timeout_ms:
            config = dataclasses.replace(config, timeout_s=settings.timeout_ms / 1000)
        if settings.transport_retries is not None:
            config = dataclasses.replace(config, transport_retries=settings.transport_retries)
    except ValueError:
        return None
    return config
