"""Cost of one request from its token counts and the generator's compute time."""

from __future__ import annotations

from raygate.config import PricingConfig


def request_cost_usd(
    pricing: PricingConfig,
    tokens_in: int | None,
    tokens_out: int | None,
    tokens_cached: int | None,
    compute_s: float,
) -> float | None:
    """USD for one request; None when the token counts it needs are unknown."""
    token_priced = pricing.input_cost_per_token or pricing.output_cost_per_token
    if token_priced and (tokens_in is None or tokens_out is None):
        return None
    cached = tokens_cached or 0
    uncached = max((tokens_in or 0) - cached, 0)
    return (
        uncached * pricing.input_cost_per_token
        + cached * pricing.cache_read_input_token_cost
        + (tokens_out or 0) * pricing.output_cost_per_token
        + compute_s * pricing.compute_usd_per_hour / 3600
    )
