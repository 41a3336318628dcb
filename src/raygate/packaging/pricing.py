"""A pyfunc priced by what it was logged with: `metadata={"raygate": {"pricing": {...}}}`
(an agent config's `pricing:`: a model of the pricing table, per-token prices, compute per
hour), for the rows that report no cost_usd of their own."""

from __future__ import annotations

from typing import Any

from raygate.config import PricingConfig
from raygate.errors import ModelLoadError
from raygate.schemas import validate_mapping
from raygate.telemetry.prices import request_cost_usd

METADATA_KEY = "raygate"  # the MLmodel metadata entry raygate reads; its `pricing` is priced


def logged_prices(metadata: dict[str, Any] | None) -> dict[str, float] | None:
    """The prices in a model's MLmodel metadata (`raygate.pricing`); None without."""
    settings = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    if not isinstance(settings, dict) or settings.get("pricing") is None:
        return None
    where = f"the model's metadata {METADATA_KEY}.pricing"
    return validate_mapping(settings["pricing"], PricingConfig, ModelLoadError, where).prices()


def priced(
    record: dict[str, Any], prices: dict[str, float] | None, compute_s: float | None
) -> dict[str, Any]:
    """The record with its cost_usd from `prices` where it reports none; unchanged when a
    figure the prices need is unknown (token counts; the time, for compute per hour)."""
    if not prices or record.get("cost_usd") is not None:
        return record
    if prices.get("compute_usd_per_hour") and compute_s is None:
        return record
    cost = request_cost_usd(prices, record.get("tokens_in"), record.get("tokens_out"),
                            record.get("tokens_cached"), compute_s or 0.0)  # fmt: skip
    return record if cost is None else {**record, "cost_usd": cost}
