"""The canary judge: canary against champion over the same windows of time, each metric PASS,
FAIL or INCONCLUSIVE from anytime-valid bounds on the canary/champion ratio.

A metric FAILS when its ratio is above 1 with confidence 1 − alpha and its estimate is at
least halfway to the effect that matters (a regression too small to matter never fails); it
PASSES when its ratio is below 1 + max_increase with confidence 1 − beta; otherwise it is
INCONCLUSIVE: not enough data yet, so extend, never pass. The policy's error budgets are split
evenly over the metrics (Bonferroni), and the bounds hold at every look, so the whole decision
keeps its error rates under continuous monitoring. Pure: state in, state out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from scipy.stats import norm

from raygate.canary.observations import WindowPair
from raygate.canary.policy import JudgedMetric
from raygate.canary.sequential import (
    RATIOS,
    mixture_weights,
    quantile_bounds,
    rate_below,
    ratio_bounds,
    ratio_loglik_step,
)

# Count metric → the VariantWindow counter it reads.
COUNT_FIELDS = {
    "error_rate": "errors",
    "safety_block_rate": "safety_blocks",
    "refusal_rate": "refusals",
}
MISSING_FIELDS = {"cost_usd": "cost_missing", "tokens_out": "tokens_missing"}
# Champion values needed, per 1 − p, before its p-quantile serves as an exceedance threshold.
MIN_REFERENCE_VALUES = 20
REFERENCE_LOG_SD = 0.7


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class MetricVerdict:
    """One metric's verdict and its evidence. Ratios are canary ÷ champion (of rates, or of
    the quantile); the bounds hold at any look: ratio > ratio_lower with confidence 1 − alpha,
    ratio < ratio_upper with confidence 1 − beta."""

    metric: str
    verdict: Verdict
    canary: float | None
    champion: float | None
    ratio: float | None
    ratio_lower: float
    ratio_upper: float
    max_increase: float
    canary_n: int
    champion_n: int
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "verdict": self.verdict.value,
            "evidence": {
                "canary": self.canary,
                "champion": self.champion,
                "ratio": _finite(self.ratio),
                "ratio_lower": _finite(self.ratio_lower),
                "ratio_upper": _finite(self.ratio_upper),
                "max_ratio": 1 + self.max_increase,
                "canary_n": self.canary_n,
                "champion_n": self.champion_n,
            },
            "detail": self.detail,
        }


@dataclass(frozen=True)
class JudgeVerdict:
    """All metrics at one look: FAIL if any failed, PASS if all passed, else INCONCLUSIVE."""

    verdict: Verdict
    metrics: tuple[MetricVerdict, ...]
    canary_requests: int
    champion_requests: int


@dataclass(frozen=True)
class JudgeState:
    """What the judge has seen: running totals per variant and, per count metric, the
    log-likelihood of its events over the ratio grid (windows with changing shares)."""

    totals: WindowPair = field(default_factory=WindowPair)
    loglik: dict[str, np.ndarray] = field(default_factory=dict)
    looks: int = 0


def observe(state: JudgeState, window: WindowPair, metrics: list[JudgedMetric]) -> JudgeState:
    """The state after one more window of both variants."""
    loglik = dict(state.loglik)
    for metric in metrics:
        if metric.kind == "count":
            counter = COUNT_FIELDS[metric.name]
            step = ratio_loglik_step(
                getattr(window.canary, counter),
                window.canary.requests,
                getattr(window.champion, counter),
                window.champion.requests,
            )
        else:
            step = _exceedance_step(state, window, metric)
        if step is not None:
            loglik[metric.name] = loglik.get(metric.name, np.zeros(RATIOS.size)) + step
    totals = WindowPair(
        state.totals.canary.merge(window.canary), state.totals.champion.merge(window.champion)
    )
    return JudgeState(totals, loglik, state.looks + 1)


def _exceedance_step(
    state: JudgeState, window: WindowPair, metric: JudgedMetric
) -> np.ndarray | None:
    """For a distribution metric, this window's values above a threshold fixed *before* it
    (the champion's p-quantile so far) are events like errors: a canary no slower than its
    champion (stochastically) exceeds any threshold no more often, so the rate-ratio test of
    exceedances is a valid, sharp test of "worse at the p-quantile"."""
    reference = getattr(state.totals.champion, metric.name)
    p = metric.quantile or 0.5
    if reference.count < MIN_REFERENCE_VALUES / (1 - p):
        return None
    threshold = reference.quantile_bucket(p)
    if threshold is None:
        return None
    canary, champion = getattr(window.canary, metric.name), getattr(window.champion, metric.name)
    return ratio_loglik_step(
        canary.count_above(threshold), canary.count,
        champion.count_above(threshold), champion.count,
    )  # fmt: skip


def exceedance_effect(quantile: float, max_increase: float) -> float:
    """The rise in the share of values above the champion's p-quantile that a rise of
    `max_increase` in the quantile itself brings, for a lognormal of log-sd 0.7 (the centre of
    the exceedance test's mixture; any shape keeps the test valid)."""
    z = norm.ppf(quantile)
    above = norm.sf(z - math.log1p(max_increase) / REFERENCE_LOG_SD)
    return round(float(above / (1 - quantile)) - 1, 3)


def judge(state: JudgeState, metrics: list[JudgedMetric]) -> JudgeVerdict:
    """Every metric's verdict on what has been seen so far, and the step's verdict."""
    verdicts = tuple(
        _count_verdict(state, m) if m.kind == "count" else _distribution_verdict(state, m)
        for m in metrics
    )
    kinds = {v.verdict for v in verdicts}
    overall = (
        Verdict.FAIL
        if Verdict.FAIL in kinds
        else Verdict.PASS
        if kinds == {Verdict.PASS}
        else Verdict.INCONCLUSIVE
    )
    totals = state.totals
    return JudgeVerdict(overall, verdicts, totals.canary.requests, totals.champion.requests)


def _decide(metric: JudgedMetric, ratio: float | None, fail_lower: float, upper: float) -> Verdict:
    halfway = 1 + metric.max_increase / 2
    if fail_lower >= 1 and ratio is not None and ratio >= halfway:
        return Verdict.FAIL
    if upper <= 1 + metric.max_increase:
        return Verdict.PASS
    return Verdict.INCONCLUSIVE


def _count_verdict(state: JudgeState, metric: JudgedMetric) -> MetricVerdict:
    counter = COUNT_FIELDS[metric.name]
    canary, champion = state.totals.canary, state.totals.champion
    events_c, events_0 = getattr(canary, counter), getattr(champion, counter)
    rate_c = events_c / canary.requests if canary.requests else None
    rate_0 = events_0 / champion.requests if champion.requests else None
    ratio = _ratio(rate_c, rate_0)
    loglik = state.loglik.get(metric.name)
    # PASS has two routes, beta/2 each: the ratio is below 1 + max_increase, or the canary's
    # own rate is below the policy's negligible rate.
    pass_beta = metric.beta / 2 if metric.negligible_rate else metric.beta
    if loglik is None:
        lower, upper = 0.0, math.inf
    else:
        bounds = ratio_bounds(loglik, mixture_weights(metric.max_increase), metric.alpha, pass_beta)
        lower, upper = bounds.lower, bounds.upper
    verdict = _decide(metric, ratio, lower, upper)
    why = _why(verdict, metric, lower, upper)
    negligible = metric.negligible_rate
    if (
        verdict is Verdict.INCONCLUSIVE
        and negligible
        and rate_below(events_c, canary.requests, negligible, pass_beta)
    ):
        verdict = Verdict.PASS
        why = f"below the negligible rate {negligible:.2%} with {1 - metric.beta:.2%} confidence"
    detail = (
        f"canary {_pct(rate_c)} ({events_c}/{canary.requests}) vs champion {_pct(rate_0)} "
        f"({events_0}/{champion.requests}); ratio {_num(ratio)}, {_num(lower)} < r < "
        f"{_num(upper)}; {why}"
    )
    return MetricVerdict(
        metric.name, verdict, rate_c, rate_0, ratio, lower, upper, metric.max_increase,
        canary.requests, champion.requests, detail,
    )  # fmt: skip


def _distribution_verdict(state: JudgeState, metric: JudgedMetric) -> MetricVerdict:
    canary, champion = state.totals.canary, state.totals.champion
    sketch_c, sketch_0 = getattr(canary, metric.name), getattr(champion, metric.name)
    p = metric.quantile or 0.5
    # Two tests may FAIL the metric, each with half of alpha: the quantile bounds (the
    # canary's lower against the champion's upper, alpha/4 each) and the exceedance test.
    # The canary's upper and the champion's lower bound decide PASS (beta/2 each).
    bounds_c = quantile_bounds(sketch_c, p, metric.alpha / 4, metric.beta / 2)
    bounds_0 = quantile_bounds(sketch_0, p, metric.beta / 2, metric.alpha / 4)
    ratio = _ratio(bounds_c.estimate, bounds_0.estimate)
    lower = bounds_c.lower / bounds_0.upper if 0 < bounds_0.upper < math.inf else 0.0
    upper = bounds_c.upper / bounds_0.lower if bounds_0.lower > 0 else math.inf
    label = f"p{p * 100:g}"
    exceedances = state.loglik.get(metric.name)
    exceed_lower = 0.0
    if exceedances is not None:
        effect = exceedance_effect(p, metric.max_increase)
        exceed_lower = ratio_bounds(
            exceedances, mixture_weights(effect), metric.alpha / 2, metric.beta
        ).lower
    fail_lower = max(lower, exceed_lower) if max(lower, exceed_lower) >= 1 else lower
    verdict = _decide(metric, ratio, fail_lower, upper)
    why = _why(verdict, metric, fail_lower, upper)
    missing = MISSING_FIELDS.get(metric.name)
    if missing and canary.requests and sketch_c.count == 0:
        why = f"the canary reported no {metric.name} on {canary.requests} requests (missing)"
    elif bounds_c.estimate == 0 and bounds_0.estimate == 0:
        why = f"both variants' {label} is 0: nothing to compare (switch the metric off if so)"
    detail = (
        f"{label} canary {_num(bounds_c.estimate)} (n={sketch_c.count}) vs champion "
        f"{_num(bounds_0.estimate)} (n={sketch_0.count}); ratio {_num(ratio)}, "
        f"{_num(lower)} < r < {_num(upper)}; above the champion's {label} ×{_num(exceed_lower)}+"
        f" as often; {why}"
    )
    return MetricVerdict(
        metric.name, verdict, bounds_c.estimate, bounds_0.estimate, ratio, lower, upper,
        metric.max_increase, sketch_c.count, sketch_0.count, detail,
    )  # fmt: skip


def _why(verdict: Verdict, metric: JudgedMetric, lower: float, upper: float) -> str:
    limit = 1 + metric.max_increase
    if verdict is Verdict.FAIL:
        return f"worse than the champion with {1 - metric.alpha:.2%} confidence"
    if verdict is Verdict.PASS:
        return f"below ×{limit:g} with {1 - metric.beta:.2%} confidence"
    if lower >= 1:
        return f"worse, but by less than half of ×{limit:g} so far"
    return f"not enough data to tell ×1 from ×{limit:g} yet"


def _ratio(canary: float | None, champion: float | None) -> float | None:
    if canary is None or champion is None:
        return None
    if champion == 0:
        return None if canary == 0 else math.inf
    return canary / champion


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) else value


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "∞"
    return f"{value:.3g}"
