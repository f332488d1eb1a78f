"""The cost of a call from the roster's price table (USD per million tokens)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from baton.runtime.llm.reply import LlmUsage


@dataclass(frozen=True)
class Price:
    """`price: {input_per_mtok, output_per_mtok}` of a roster agent."""

    input_per_mtok: float
    output_per_mtok: float

    def __post_init__(self) -> None:
        for name in ("input_per_mtok", "output_per_mtok"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number, not {value!r}")
            if not 0 <= value < math.inf:
                raise ValueError(f"{name} must be >= 0, not {value!r}")

    def to_json(self) -> dict[str, Any]:
        return {"input_per_mtok": self.input_per_mtok, "output_per_mtok": self.output_per_mtok}


def cost_usd(usage: LlmUsage, price: Price | None) -> float:
    """USD for `usage` at `price` (0.0 without a price), rounded to 1e-10 so float noise
    (0.30000000000000004) does not show in totals.

    >>> cost_usd(LlmUsage(input_tokens=1000, output_tokens=100), Price(0.4, 1.6))
    0.00056
    """
    if price is None:
        return 0.0
    total = usage.input_tokens * price.input_per_mtok + usage.output_tokens * price.output_per_mtok
    return round(total / 1_000_000, 10)
