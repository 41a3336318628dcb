"""The pricing table shipped with raygate (USD per token, LiteLLM's field names, or per hour
of compute) and the price of one request; an unpriced model's cost is missing, never 0."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

PRICES_FILE = Path(__file__).with_name("prices.yaml")
PRICE_FIELDS = (
    "input_cost_per_token",
    "cache_read_input_token_cost",
    "output_cost_per_token",
    "compute_usd_per_hour",
)


@lru_cache(maxsize=1)
def price_table() -> dict[str, dict[str, float]]:
    """Model name → its prices (only the fields it has)."""
    raw = yaml.safe_load(PRICES_FILE.read_text(encoding="utf-8")) or {}
    return {name: {k: float(v) for k, v in fields.items()} for name, fields in raw.items()}


def request_cost_usd(
    prices: dict[str, float] | None,
    tokens_in: int | None,
    tokens_out: int | None,
    tokens_cached: int | None,
    compute_s: float,
) -> float | None:
    """USD for one request; None when the model is unpriced or the token counts its prices
    need are unknown."""
    if not prices:
        return None
    token_priced = any(prices.get(f) for f in PRICE_FIELDS[:3])
    if token_priced and (tokens_in is None or tokens_out is None):
        return None
    cached = tokens_cached or 0
    uncached = max((tokens_in or 0) - cached, 0)
    return (
        uncached * prices.get("input_cost_per_token", 0.0)
        + cached * prices.get("cache_read_input_token_cost", 0.0)
        + (tokens_out or 0) * prices.get("output_cost_per_token", 0.0)
        + compute_s * prices.get("compute_usd_per_hour", 0.0) / 3600
    )
