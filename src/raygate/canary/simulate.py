"""Seeded synthetic canary traffic, window by window, for the pre-flight plan and the judge
benchmark: binomial counts and heavy-tailed per-request distributions (latency, cost, tokens)
drawn straight into the judge's sketch buckets."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy.stats import norm

from raygate.canary.observations import VariantWindow, WindowPair
from raygate.sketch import bucket_edges, bucket_index

# Each distribution is a lognormal through the given p50 and p95 for 98 % of requests and a
# Pareto tail (shape 1.5, from the lognormal's p99 up) for the other 2 %: heavy-tailed, as
# latencies and agent costs are.
TAIL_SHARE = 0.02
TAIL_SHAPE = 1.5


@dataclass(frozen=True)
class Traffic:
    """How one variant behaves: event rates per request, and the p50/p95 of each quantity."""

    error_rate: float = 0.01
    safety_block_rate: float = 0.005
    refusal_rate: float = 0.02
    latency_ms_p50: float = 400.0
    latency_ms_p95: float = 1500.0
    cost_usd_p50: float = 0.002
    cost_usd_p95: float = 0.006
    tokens_out_p50: float = 150.0
    tokens_out_p95: float = 400.0

    def regressed(self, metric: str, factor: float) -> Traffic:
        """This traffic with one metric made `factor` times worse (a rate, or the whole
        distribution scaled)."""
        if metric.endswith("_rate"):
            return replace(self, **{metric: min(1.0, getattr(self, metric) * factor)})
        return replace(
            self,
            **{
                f"{metric}_p50": getattr(self, f"{metric}_p50") * factor,
                f"{metric}_p95": getattr(self, f"{metric}_p95") * factor,
            },
        )


@lru_cache(maxsize=256)
def bucket_probabilities(p50: float, p95: float) -> tuple[int, np.ndarray]:
    """(first bucket index, probability of each bucket) of the heavy-tailed distribution."""
    mu = math.log(p50)
    sigma = max(math.log(p95 / p50) / norm.ppf(0.95), 1e-3)
    scale = math.exp(mu + sigma * norm.ppf(0.99))
    low = bucket_index(math.exp(mu - 8 * sigma))
    high = bucket_index(scale * (TAIL_SHARE / 1e-7) ** (1 / TAIL_SHAPE))
    edges = np.array([bucket_edges(i)[1] for i in range(low, high + 1)])
    body = norm.cdf((np.log(edges) - mu) / sigma)
    tail = np.where(edges > scale, 1 - (scale / np.maximum(edges, scale)) ** TAIL_SHAPE, 0.0)
    cdf = (1 - TAIL_SHARE) * body + TAIL_SHARE * tail
    probs = np.diff(np.concatenate([[0.0], cdf]))
    probs[-1] += 1 - cdf[-1]  # the far tail lands in the last bucket
    return low, probs / probs.sum()


def variant_window(traffic: Traffic, requests: int, rng: np.random.Generator) -> VariantWindow:
    """One variant's aggregates for `requests` judged requests."""
    window = VariantWindow(requests=requests)
    window.errors = int(rng.binomial(requests, traffic.error_rate))
    answered = requests - window.errors
    window.refusals = int(rng.binomial(answered, traffic.refusal_rate))
    window.safety_blocks = int(rng.binomial(answered, traffic.safety_block_rate))
    sizes = {"latency_ms": answered, "cost_usd": requests, "tokens_out": requests}
    for sketch, count in sizes.items():
        first, probs = bucket_probabilities(
            getattr(traffic, f"{sketch}_p50"), getattr(traffic, f"{sketch}_p95")
        )
        getattr(window, sketch).add_counts(first, rng.multinomial(count, probs))
    return window


def window_pair(
    champion: Traffic, canary: Traffic, requests: int, share: float, rng: np.random.Generator
) -> WindowPair:
    """Both variants over one window of `requests` in all, the canary getting `share`."""
    to_canary = int(rng.binomial(requests, share))
    return WindowPair(
        canary=variant_window(canary, to_canary, rng),
        champion=variant_window(champion, requests - to_canary, rng),
    )
