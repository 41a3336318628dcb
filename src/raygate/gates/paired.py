"""Paired regression tests on per-row scores of candidate and champion over the same gold rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest


@dataclass(frozen=True)
class PairedResult:
    """Whether the candidate is significantly worse, with the numbers that say so."""

    regression: bool
    difference: float  # mean(candidate) - mean(champion)
    statistic: float  # p-value (McNemar) or the upper confidence bound of the difference
    detail: str


def mcnemar_regression(
    candidate: np.ndarray, champion: np.ndarray, confidence: float
) -> PairedResult:
    """One-sided exact McNemar: is the candidate wrong where the champion was right more often
    than the reverse, beyond chance at the given confidence?"""
    cand, champ = candidate.astype(bool), champion.astype(bool)
    lost = int(np.sum(champ & ~cand))  # champion right, candidate wrong
    won = int(np.sum(cand & ~champ))
    p_value = binomtest(lost, lost + won, 0.5, alternative="greater").pvalue if lost + won else 1.0
    difference = float(cand.mean() - champ.mean())
    regression = p_value < 1 - confidence
    detail = f"lost {lost}, won {won} of {len(cand)} paired rows; one-sided p={p_value:.4g}"
    return PairedResult(regression, difference, float(p_value), detail)


def bootstrap_regression(
    candidate: np.ndarray,
    champion: np.ndarray,
    confidence: float,
    margin: float,
    resamples: int,
    seed: int,
) -> PairedResult:
    """Paired bootstrap of the mean difference: a regression when even the upper confidence
    bound of (candidate - champion) is below -margin."""
    diffs = candidate.astype(float) - champion.astype(float)
    rng = np.random.default_rng(seed)
    means = np.array(
        [diffs[rng.integers(0, diffs.size, diffs.size)].mean() for _ in range(resamples)]
    )
    upper = float(np.percentile(means, confidence * 100))
    difference = float(diffs.mean())
    regression = upper < -margin
    detail = (
        f"difference {difference:+.4f}, one-sided {confidence:.0%} upper bound {upper:+.4f} "
        f"vs margin -{margin:.4f} over {diffs.size} paired rows"
    )
    return PairedResult(regression, difference, upper, detail)
