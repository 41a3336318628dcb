"""decide(): a pure function from a policy and the evidence to a verdict on every gate."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from raygate import constants as c
from raygate.gates.paired import bootstrap_regression, mcnemar_regression
from raygate.gates.policy import GatePolicy

Verdict = Literal["pass", "fail", "skipped"]


@dataclass(frozen=True)
class GateResult:
    """One gate: what was measured, against what, and the verdict."""

    name: str
    measured: float | None
    threshold: str
    verdict: Verdict
    detail: str = ""


@dataclass(frozen=True)
class GateDecision:
    """All gates; the candidate passes only when none failed."""

    gates: tuple[GateResult, ...]

    @property
    def passed(self) -> bool:
        return all(g.verdict != "fail" for g in self.gates)

    def to_dict(self) -> dict:
        return {"passed": self.passed, "gates": [asdict(g) for g in self.gates]}


@dataclass(frozen=True)
class PairedScores:
    """Per-row scores of candidate and champion, aligned on the same gold ids."""

    champion_id: str
    candidate: np.ndarray
    champion: np.ndarray


# (gate name, policy field, metric, comparison, symbol)
_ABSOLUTE: tuple[tuple[str, str, str, Callable[[float, float], bool], str], ...] = (
    ("quality", "quality_min", c.QUALITY, operator.ge, "≥"),
    ("safety.refusals", "refusal_accuracy_min", c.REFUSAL_ACCURACY, operator.ge, "≥"),
    ("safety.pii_leaks", "pii_leaks_max", c.PII_LEAK_COUNT, operator.le, "≤"),
    ("latency.p95", "latency_ms_p95_max", c.LATENCY_MS_P95, operator.le, "≤"),
    ("cost.per_request", "cost_usd_per_request_max", c.COST_USD_PER_REQUEST, operator.le, "≤"),
    ("errors", "error_rate_max", c.ERROR_RATE, operator.le, "≤"),
)


# Why an offline metric can be missing, and what would measure it.
_UNMEASURED = {
    c.REFUSAL_ACCURACY: "the gold set has no rows of category 'disallowed'; add some, or ",
    c.COST_USD_PER_REQUEST: "the model reports no cost_usd; have its output rows carry one, "
    "log it with its prices (metadata={'raygate': {'pricing': {'model': …}}}) and token "
    "counts, or ",
}

# (gate name, load policy field, load-run metric, comparison, symbol)
_LOAD: tuple[tuple[str, str, str, Callable[[float, float], bool], str], ...] = (
    ("load.latency_p95", "latency_ms_p95_max", "load.latency_ms_p95", operator.le, "≤"),
    ("load.errors", "error_rate_max", "load.error_rate", operator.le, "≤"),
    ("load.rate", "min_rate_rps", "load.achieved_rate_rps", operator.ge, "≥"),
)


def decide(
    policy: GatePolicy,
    metrics: Mapping[str, float],
    paired: PairedScores | None,
    contract: Sequence[GateResult] = (),
    seed: int = 0,
    load_metrics: Mapping[str, float] | None = None,
) -> GateDecision:
    """Every gate of the policy, in a fixed order, judged on the evidence given."""
    gates = [_absolute(policy.absolute, metrics, *spec) for spec in _ABSOLUTE]
    for category, minimum in (policy.absolute.category_quality_min or {}).items():
        gates.append(_category_quality(category, minimum, metrics))
    if policy.relative is not None:
        gates.append(_relative(policy, paired, seed))
    if policy.load is not None:
        gates += [_absolute(policy.load, load_metrics or {}, *spec) for spec in _LOAD]
    gates.extend(contract)
    return GateDecision(tuple(gates))


def _absolute(thresholds, metrics, name, field, metric, compare, symbol) -> GateResult:
    threshold = getattr(thresholds, field)
    if threshold is None:
        return GateResult(name, metrics.get(metric), "off", "skipped", f"{field} is null")
    how = (
        "load-test the served candidate (`raygate loadtest … --log-mlflow`) and pass "
        "--load-run RUN_ID, or "
        if metric.startswith("load.")
        else _UNMEASURED.get(metric, "")
    )
    unmeasured = (
        f"{metric} was not measured; no evidence is no pass ({how}set {field}: null if it "
        "does not apply)"
    )
    return _judged(name, metrics, metric, compare, symbol, threshold, unmeasured)


def _category_quality(category: str, minimum: float, metrics: Mapping[str, float]) -> GateResult:
    unmeasured = (
        f"the eval has no rows of category {category!r}; no evidence is no pass (check the "
        "gold set's categories, or drop it from category_quality_min)"
    )
    return _judged(f"quality.{category}", metrics, f"{c.QUALITY}.{category}", operator.ge, "≥",
                   minimum, unmeasured)  # fmt: skip


def _judged(name, metrics, metric, compare, symbol, threshold, unmeasured: str) -> GateResult:
    """`metric` against `threshold`; a metric not measured fails, saying `unmeasured`."""
    wanted = f"{metric} {symbol} {threshold:g}"
    if metric not in metrics:
        return GateResult(name, None, wanted, "fail", unmeasured)
    measured = metrics[metric]
    return GateResult(name, measured, wanted, "pass" if compare(measured, threshold) else "fail")


def _relative(policy: GatePolicy, paired: PairedScores | None, seed: int) -> GateResult:
    rule = policy.relative
    name = f"regression.{rule.metric}"
    threshold = (
        f"no significant drop ({rule.method}, {rule.confidence:.0%}, margin {rule.margin:g})"
    )
    if paired is None:
        return GateResult(name, None, threshold, "skipped", "no champion to compare against")
    if rule.method == "mcnemar":
        result = mcnemar_regression(paired.candidate, paired.champion, rule.confidence)
    else:
        result = bootstrap_regression(
            paired.candidate, paired.champion, rule.confidence, rule.margin, rule.resamples, seed
        )
    verdict: Verdict = "fail" if result.regression else "pass"
    return GateResult(
        name, result.difference, threshold, verdict, f"vs {paired.champion_id}: {result.detail}"
    )
