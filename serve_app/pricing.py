"""Estimated cost of a call from its tokens, in US dollars per million tokens (input, output), by the
longest matching model-name prefix. Unknown and offline models cost nothing."""

from __future__ import annotations

PRICES: dict[str, tuple[float, float]] = {
    "claude-opus": (15.0, 75.0),
    "claude-sonnet": (3.0, 15.0),
    "claude-haiku": (0.8, 4.0),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-4o": (2.5, 10.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1": (2.0, 8.0),
}
_BY_LENGTH = sorted(PRICES, key=len, reverse=True)


def cost_usd(model: str | None, input_tokens: int, output_tokens: int) -> float:
    if not model:
        return 0.0
    for prefix in _BY_LENGTH:
        if model.startswith(prefix):
            price_in, price_out = PRICES[prefix]
            return round((input_tokens * price_in + output_tokens * price_out) / 1_000_000, 6)
    return 0.0
