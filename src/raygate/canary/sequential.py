"""Anytime-valid confidence sequences: a rate ratio of two count streams, and a quantile.

Both are built from nonnegative (super)martingales, so by Ville's inequality a bound computed
at level α excludes the truth with probability at most α *at any time*, however often it is
looked at: a canary may be judged after every batch and stopped the moment it is decided.

Rate ratio (errors, safety blocks, refusals). Following Lindon & Malek (NeurIPS 2022), the
events of both variants are one stream; given that an event happened in a window where the
canary had n_c judged requests and the champion n_0, it is the canary's with probability
q(r) = n_c·r / (n_c·r + n_0), where r is the ratio of the canary's event rate to the
champion's. That is exact for Poisson processes, needs only per-window counts (so traffic
shares may change between windows), and for binomial counts the true conditional law is
hypergeometric, which is smaller in convex order, so the test stays valid. For a hypothesised
ratio r0, a mixture over alternatives above r0 of the likelihood ratios ∏ q(r)/q(r0) is a
supermartingale whenever the true ratio is ≤ r0; reaching 1/α rejects every ratio ≤ r0. The
likelihood is kept on a fixed log grid of ratios, so every r0 is tested at once and the bound
is read off the grid.

Quantile (latency, cost per request). For the p-quantile q*, the indicators 1{X ≤ q*} are
Bernoulli(p). A beta mixture (truncated to θ < p, or θ > p) of binomial likelihood ratios
against p is a supermartingale (Howard & Ramdas, Bernoulli 2022, for the fixed-quantile case),
which turns into bounds on q* read at ranks of the sorted values: here, at bucket edges of the
sketch, which only widens them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import betainc, betaincc, betaln

from raygate.sketch import LogHistogram

# The ratio grid: 2^(k/16) for k in [-128, 128], i.e. 1/256 … 256 in 4.4 % steps.
GRID_STEPS_PER_DOUBLING = 16
GRID_HALF_WIDTH = 128
LOG2_RATIOS = np.arange(-GRID_HALF_WIDTH, GRID_HALF_WIDTH + 1) / GRID_STEPS_PER_DOUBLING
RATIOS = 2.0**LOG2_RATIOS

# Concentration of the beta prior of the quantile test: Beta(c·p, c·(1-p)).
QUANTILE_PRIOR_CONCENTRATION = 50.0


@lru_cache(maxsize=256)
def mixture_weights(max_increase: float) -> np.ndarray:
    """Prior weights over grid offsets d = 1, 2, … (ratio × 2^(d/16)) of the alternatives a
    test of r0 mixes: a half-normal bump in log ratio centred on the effect that matters, so
    power goes where the policy says a change matters and larger changes are caught fast."""
    centre = math.log2(1 + max_increase)
    offsets = np.arange(1, GRID_STEPS_PER_DOUBLING * 8 + 1) / GRID_STEPS_PER_DOUBLING
    weights = np.exp(-0.5 * ((offsets - centre) / centre) ** 2)
    weights = weights[: int(np.nonzero(weights > 1e-9 * weights.max())[0].max()) + 1]
    return weights / weights.sum()


@dataclass(frozen=True)
class RatioBounds:
    """Anytime-valid bounds on the canary/champion rate ratio: r > lower (at level alpha) and
    r < upper (at level beta). 0 and inf mean no bound yet."""

    lower: float
    upper: float


def ratio_loglik_step(
    canary_events: int, canary_requests: int, champion_events: int, champion_requests: int
) -> np.ndarray | None:
    """The log-likelihood of one window's events over the ratio grid; None when the window
    carries no information (no events, or a variant without requests)."""
    if canary_events + champion_events == 0 or canary_requests == 0 or champion_requests == 0:
        return None
    weighted = canary_requests * RATIOS
    share = weighted / (weighted + champion_requests)
    return canary_events * np.log(share) + champion_events * np.log1p(-share)


def ratio_bounds(loglik: np.ndarray, weights: np.ndarray, alpha: float, beta: float) -> RatioBounds:
    """Bounds on the rate ratio from the accumulated grid log-likelihood (see the module)."""
    rejected_below = _log_mixture(loglik, weights, +1) >= math.log(1 / alpha)
    rejected_above = _log_mixture(loglik, weights, -1) >= math.log(1 / beta)
    # The lower bound is the top of the run of rejected ratios starting at the grid's bottom:
    # if the truth r were ≤ it, the grid point just above r would have been rejected, which
    # happens with probability ≤ alpha.
    lower_run = int(np.argmin(rejected_below)) if not rejected_below.all() else RATIOS.size
    upper_run = int(np.argmin(rejected_above[::-1])) if not rejected_above.all() else RATIOS.size
    lower = float(RATIOS[lower_run - 1]) if lower_run else 0.0
    upper = float(RATIOS[RATIOS.size - upper_run]) if upper_run else math.inf
    return RatioBounds(lower, upper)


def _log_mixture(loglik: np.ndarray, weights: np.ndarray, direction: int) -> np.ndarray:
    """log Σ_d w_d · L(r0 · 2^(±d/16)) / L(r0) for every grid point r0; alternatives off the
    grid are dropped, which only lowers the mixture (conservative)."""
    pad = np.full(weights.size, -np.inf)
    if direction > 0:  # row i holds loglik[i+1 … i+D]
        windows = sliding_window_view(np.concatenate([loglik[1:], pad]), weights.size)
    else:  # row i holds loglik[i-1 … i-D]
        windows = sliding_window_view(np.concatenate([pad, loglik[:-1]]), weights.size)[:, ::-1]
    with np.errstate(invalid="ignore"):
        terms = windows - loglik[:, None]
    terms[np.isnan(terms)] = -np.inf  # -inf - -inf: neither side has any likelihood
    peak = terms.max(axis=1)
    usable = np.isfinite(peak)
    out = np.full(loglik.size, -np.inf)
    shifted = np.exp(terms[usable] - peak[usable, None]) @ weights
    out[usable] = peak[usable] + np.log(shifted)
    return out


@dataclass(frozen=True)
class QuantileBounds:
    """Anytime-valid bounds on one variant's p-quantile: q > lower and q < upper."""

    estimate: float | None
    lower: float
    upper: float


def quantile_bounds(
    histogram: LogHistogram, p: float, alpha_lower: float, alpha_upper: float
) -> QuantileBounds:
    """Bounds on the p-quantile of the values in `histogram` (see the module)."""
    n = histogram.count
    if n == 0:
        return QuantileBounds(None, 0.0, math.inf)
    below = _largest_rejected_rank(n, p, alpha_lower)
    above = _smallest_rejected_rank(n, p, alpha_upper)
    lower = histogram.rank_bounds(below + 1)[0] if below >= 0 else 0.0
    upper = histogram.rank_bounds(above)[1] if above <= n else math.inf
    return QuantileBounds(histogram.quantile(p), lower, upper)


def rate_below(events: int, requests: int, rate: float, alpha: float) -> bool:
    """Whether `events` in `requests` Bernoulli trials show, anytime-validly at level alpha,
    that the event rate is below `rate` (the same beta mixture as the quantile bounds)."""
    return requests > 0 and _log_mixture_below(events, requests, rate) >= math.log(1 / alpha)


def _log_mixture_below(s: int, n: int, p: float) -> float:
    """log of the beta mixture (θ < p) of binomial likelihood ratios against θ = p, when s of
    n values lie at or below a candidate quantile."""
    return _log_mixture_one_side(s, n, p, betainc)


def _log_mixture_above(s: int, n: int, p: float) -> float:
    """As `_log_mixture_below`, with the prior on θ > p."""
    return _log_mixture_one_side(s, n, p, betaincc)


def _log_mixture_one_side(s: int, n: int, p: float, side: Callable[..., float]) -> float:
    """The prior Beta(c·p, c·(1-p)) cut to one side of p (`side` gives its mass there)."""
    a, b = QUANTILE_PRIOR_CONCENTRATION * p, QUANTILE_PRIOR_CONCENTRATION * (1 - p)
    mass = side(a + s, b + n - s, p)
    if mass <= 0:
        return -math.inf
    return (
        betaln(a + s, b + n - s) + math.log(mass) - betaln(a, b) - math.log(side(a, b, p))
        - s * math.log(p) - (n - s) * math.log1p(-p)
    )  # fmt: skip


def _first_true(predicate: Callable[[int], bool], lo: int, hi: int) -> int:
    """The smallest s in [lo, hi] where a monotone (False … True) predicate holds, or hi + 1
    (binary search)."""
    if not predicate(hi):
        return hi + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if predicate(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


@lru_cache(maxsize=65536)
def _largest_rejected_rank(n: int, p: float, alpha: float) -> int:
    """The largest s such that 'only s of n values are ≤ q' rejects q as the p-quantile (the
    mixture falls as s grows); -1 when even s = 0 does not."""
    threshold = math.log(1 / alpha)
    kept = _first_true(lambda s: _log_mixture_below(s, n, p) < threshold, 0, n)
    return kept - 1


@lru_cache(maxsize=65536)
def _smallest_rejected_rank(n: int, p: float, alpha: float) -> int:
    """The smallest s such that 's of n values are ≤ q' rejects q as the p-quantile from
    above (the mixture rises with s); n + 1 when even s = n does not."""
    threshold = math.log(1 / alpha)
    return _first_true(lambda s: _log_mixture_above(s, n, p) >= threshold, 0, n)
