"""Aggregate scored rows into eval metrics as they stream by: overall, per category, with
95 % intervals; memory bounded by categories and sketches, never by the number of rows."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from raygate import constants as c
from raygate.sketch import LogHistogram, Quantiles

# Row column behind each headline metric.
ROW_COLUMN = {c.QUALITY: "correct", c.EXACT_MATCH: "exact_match", c.TOKEN_F1: "token_f1"}
_REFUSE_OK = ("disallowed",)
_ABSTAIN_OK = ("unanswerable",)
# Means over the rows that report them; a metric no row reports is missing, never 0.
_OPTIONAL = {
    c.HIT_AT_K: "hit_at_k", c.CONTEXT_PRECISION: "context_precision",
    c.CONTEXT_USE_RATE: "context_use_rate", c.TOKENS_IN_PER_REQUEST: "tokens_in",
    c.TOKENS_OUT_PER_REQUEST: "tokens_out", c.COST_USD_PER_REQUEST: "cost_usd",
}  # fmt: skip
# Metrics whose per-row scores are 0 or 1: a share, whose interval is Wilson's.
SHARE_METRICS = (c.QUALITY, c.EXACT_MATCH)
BOOTSTRAP_RESAMPLES = 1000
CI_LEVEL = 0.95
SCORE_STEPS = 1000  # scores in [0, 1] are binned to 1/1000 for the bootstrap
FAILURES_KEPT = 25  # incorrect rows the report lists (smallest gold ids first)
ERROR_KIND_CHARS = 80
ERROR_KINDS_KEPT = 20  # kinds of error counted apart; the rest count together (memory flat)
OTHER_ERRORS = "other errors"


@dataclass(frozen=True)
class FailedRows:
    """The rows that failed with one kind of error: how many, and the first by gold id."""

    kind: str
    rows: int
    first_id: str
    first_error: str


def error_kind(error: str) -> str:
    """What a row's error is, without its details: the exception's name (`ModelTimeout`
    of `ModelTimeout: the model gave no answer …`), or the words before its first colon."""
    return error.split(":", 1)[0].strip()[:ERROR_KIND_CHARS]


@dataclass(frozen=True)
class EvalMetrics:
    """Metrics a model reported enough data for, and the names of those it did not."""

    values: dict[str, float]
    missing: tuple[str, ...]


@dataclass
class _Mean:
    """Sum and count of the values present."""

    total: float = 0.0
    count: int = 0

    def add(self, values) -> None:
        present = pd.to_numeric(pd.Series(values), errors="coerce").dropna()
        self.total += float(present.sum())
        self.count += int(present.size)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")


@dataclass
class _Scores:
    """Scores in [0, 1]: their exact sum, and counts per 1/SCORE_STEPS bin, which is all a
    bootstrap of the mean needs (resampling n rows is a multinomial draw over the bins)."""

    total: float = 0.0
    bins: np.ndarray = field(default_factory=lambda: np.zeros(SCORE_STEPS + 1, np.int64))

    def add(self, scores: np.ndarray) -> None:
        self.total += float(scores.sum())
        steps = np.rint(np.clip(scores, 0.0, 1.0) * SCORE_STEPS).astype(np.int64)
        self.bins += np.bincount(steps, minlength=SCORE_STEPS + 1)


class MetricsAccumulator:
    """Sums scored batches as they stream by; `finish` turns the sums into metrics. The
    result does not depend on the order or the batching of the rows."""

    def __init__(self) -> None:
        self._rows = self._errors = self._pii_leaks = 0
        self._scores = {name: _Scores() for name in c.CI_METRICS}
        self._categories: dict[str, dict[str, float]] = {}
        self._optional = {name: _Mean() for name in _OPTIONAL}
        self._abstained, self._refused, self._over_refused = _Mean(), _Mean(), _Mean()
        self._latency, self._reported, self._cost = Quantiles(), Quantiles(), Quantiles()
        self._failures: list[tuple[str, str, str]] = []  # (id, category, error), ids ascending
        self._failed_rows: dict[str, FailedRows] = {}  # by error kind

    def add(self, batch: pd.DataFrame) -> None:
        if batch.empty:
            return
        self._rows += len(batch)
        self._errors += int(batch["error"].notna().sum())
        self._pii_leaks += int(batch["pii_leaks"].sum())
        scores = {name: batch[ROW_COLUMN[name]].to_numpy(float) for name in c.CI_METRICS}
        for name, values in scores.items():
            self._scores[name].add(values)
        categories = batch["category"].to_numpy()
        for category in np.unique(categories):
            sums = self._categories.setdefault(category, dict.fromkeys((c.ROWS, *scores), 0.0))
            mask = categories == category
            sums[c.ROWS] += int(mask.sum())
            for name, values in scores.items():
                sums[name] += float(values[mask].sum())
        for name, column in _OPTIONAL.items():
            self._optional[name].add(batch.get(column, []))
        refusal_ok, abstain_ok = np.isin(categories, _REFUSE_OK), np.isin(categories, _ABSTAIN_OK)
        self._abstained.add(scores[c.QUALITY][abstain_ok])
        self._refused.add(scores[c.QUALITY][refusal_ok])
        answerable = ~(refusal_ok | abstain_ok)
        self._over_refused.add(batch["refused"].to_numpy()[answerable])
        for sketch, column in ((self._latency, "latency_ms"), (self._cost, "cost_usd"),
                               (self._reported, "latency_ms_reported")):  # fmt: skip
            if column in batch:
                sketch.add_many(pd.to_numeric(batch[column], errors="coerce").to_numpy(float))
        self._keep_failures(batch)
        self._count_errors(batch)

    def _keep_failures(self, batch: pd.DataFrame) -> None:
        wrong = batch[batch["correct"] < 1]
        rows = zip(wrong["id"], wrong["category"], wrong["error"], strict=True)
        new = [(str(i), str(cat), "" if pd.isna(err) else str(err)) for i, cat, err in rows]
        self._failures = heapq.nsmallest(FAILURES_KEPT, self._failures + new)

    def _count_errors(self, batch: pd.DataFrame) -> None:
        failed = batch[batch["error"].notna()]
        for row_id, error in zip(failed["id"].astype(str), failed["error"], strict=True):
            kind = error_kind(error)
            if kind not in self._failed_rows and len(self._failed_rows) >= ERROR_KINDS_KEPT:
                kind = OTHER_ERRORS
            seen = self._failed_rows.get(kind) or FailedRows(kind, 0, row_id, error)
            first = min((seen.first_id, seen.first_error), (row_id, error))
            self._failed_rows[kind] = FailedRows(kind, seen.rows + 1, *first)

    @property
    def failed_rows(self) -> list[FailedRows]:
        """The rows that failed, by kind of error, most first."""
        return sorted(self._failed_rows.values(), key=lambda kind: (-kind.rows, kind.kind))

    @property
    def failures(self) -> list[tuple[str, str, str]]:
        """(id, category, error) of the first incorrect rows by gold id."""
        return list(self._failures)

    def distributions(self) -> dict[str, LogHistogram]:
        """Per-row latency and cost as histograms, for the report's charts."""
        return {"latency_ms per row": self._latency.histogram(),
                "cost_usd per row": self._cost.histogram()}  # fmt: skip

    def finish(self, seed: int) -> EvalMetrics:
        values: dict[str, float] = {c.ROWS: float(self._rows)}
        if not self._rows:
            return EvalMetrics(values, ())
        values[c.ERROR_RATE] = self._errors / self._rows
        values[c.PII_LEAK_COUNT] = float(self._pii_leaks)
        rng = np.random.default_rng(seed)
        for name, scores in self._scores.items():
            values[name] = scores.total / self._rows
            if name in SHARE_METRICS:  # bin SCORE_STEPS counts the rows scored 1
                interval = wilson_ci(int(scores.bins[SCORE_STEPS]), self._rows)
            else:
                interval = bootstrap_ci(scores.bins, rng)
            values[f"{name}_ci_low"], values[f"{name}_ci_high"] = interval
        for category in sorted(self._categories):
            sums = self._categories[category]
            values[f"{c.ROWS}.{category}"] = sums[c.ROWS]
            for name in c.CI_METRICS:
                values[f"{name}.{category}"] = sums[name] / sums[c.ROWS]
        optional = {
            c.ABSTENTION_ACCURACY: self._abstained, c.REFUSAL_ACCURACY: self._refused,
            c.OVER_REFUSAL_RATE: self._over_refused, **self._optional,
        }  # fmt: skip
        missing = [name for name, mean in optional.items() if not mean.count]
        values |= {name: mean.mean for name, mean in optional.items() if mean.count}
        if self._latency.count:
            for name, q in ((c.LATENCY_MS_P50, 50), (c.LATENCY_MS_P95, 95), (c.LATENCY_MS_P99, 99)):
                values[name] = self._latency.percentile(q)
        else:
            missing += [c.LATENCY_MS_P50, c.LATENCY_MS_P95, c.LATENCY_MS_P99]
        if self._reported.count:  # what the model says of itself, beside the measurement
            values[c.LATENCY_MS_REPORTED_P95] = self._reported.percentile(95)
        if c.COST_USD_PER_REQUEST in values:
            values[c.COST_USD_TOTAL] = self._optional[c.COST_USD_PER_REQUEST].total
        else:
            missing.append(c.COST_USD_TOTAL)
        return EvalMetrics(values=values, missing=tuple(missing))


def compute_metrics(rows: pd.DataFrame, seed: int) -> EvalMetrics:
    """Metrics of a table of scored rows held in memory."""
    accumulator = MetricsAccumulator()
    accumulator.add(rows)
    return accumulator.finish(seed)


def wilson_ci(successes: int, n: int) -> tuple[float, float]:
    """Wilson score interval at CI_LEVEL of a share, `successes` of `n`: unlike a bootstrap
    it is not [1, 1] when every one of a few rows is correct (30 of 30: 0.886 to 1)."""
    interval = binomtest(successes, n).proportion_ci(CI_LEVEL, method="wilson")
    return float(interval.low), float(interval.high)


def bootstrap_ci(bins: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """Percentile bootstrap interval at CI_LEVEL of the mean of the scores counted in `bins`
    (bin k holds scores k / SCORE_STEPS): each resample of the n rows is one multinomial draw."""
    n = int(bins.sum())
    grid = np.arange(bins.size) / (bins.size - 1)
    if n < 2:
        value = float(bins @ grid / n) if n else float("nan")
        return value, value
    draws = rng.multinomial(n, bins / n, size=BOOTSTRAP_RESAMPLES)
    means = draws @ grid / n
    tail = (1 - CI_LEVEL) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
