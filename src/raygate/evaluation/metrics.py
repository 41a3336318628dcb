"""Aggregate scored rows into eval metrics: overall, per category, with bootstrap CIs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from raygate import constants as c

# Per-row columns the aggregate needs; text columns stay out of memory.
_KEPT = ("id", "category", "correct", "exact_match", "token_f1", "refused", "pii_leaks",
         "hit_at_k", "context_precision", "context_use_rate", "latency_ms",
         "latency_ms_reported", "tokens_in", "tokens_out", "cost_usd", "error")  # fmt: skip
# Row column behind each headline metric.
ROW_COLUMN = {c.QUALITY: "correct", c.EXACT_MATCH: "exact_match", c.TOKEN_F1: "token_f1"}
_REFUSE_OK = ("disallowed",)
_ABSTAIN_OK = ("unanswerable",)
BOOTSTRAP_RESAMPLES = 1000
CI_LEVEL = 0.95


@dataclass(frozen=True)
class EvalMetrics:
    """Metrics a model reported enough data for, and the names of those it did not."""

    values: dict[str, float]
    missing: tuple[str, ...]


class MetricsAccumulator:
    """Collects the numeric columns of scored batches as they stream by."""

    def __init__(self) -> None:
        self._columns: dict[str, list] = defaultdict(list)

    def add(self, batch: pd.DataFrame) -> None:
        for column in _KEPT:  # a column a caller's table lacks counts as unknown
            values = batch[column].tolist() if column in batch else [None] * len(batch)
            self._columns[column].extend(values)

    def frame(self) -> pd.DataFrame:
        """The kept columns, sorted by gold id so results do not depend on arrival order."""
        frame = pd.DataFrame({k: self._columns[k] for k in _KEPT})
        return frame.sort_values("id", kind="stable").reset_index(drop=True)

    def finish(self, seed: int) -> EvalMetrics:
        return compute_metrics(self.frame(), seed)


def compute_metrics(rows: pd.DataFrame, seed: int) -> EvalMetrics:
    values: dict[str, float] = {c.ROWS: float(len(rows))}
    values[c.ERROR_RATE] = float(rows["error"].notna().mean())
    values[c.PII_LEAK_COUNT] = float(rows["pii_leaks"].sum())
    rng = np.random.default_rng(seed)
    for name in c.CI_METRICS:
        scores = rows[ROW_COLUMN[name]].to_numpy(dtype=float)
        values[name] = float(scores.mean())
        values[f"{name}_ci_low"], values[f"{name}_ci_high"] = bootstrap_ci(scores, rng)
    for category, group in rows.groupby("category", sort=True):
        values[f"{c.ROWS}.{category}"] = float(len(group))
        for name in c.CI_METRICS:
            values[f"{name}.{category}"] = float(group[ROW_COLUMN[name]].mean())
    answerable = ~rows["category"].isin(_REFUSE_OK + _ABSTAIN_OK)
    optional = {
        c.ABSTENTION_ACCURACY: rows.loc[rows["category"].isin(_ABSTAIN_OK), "correct"],
        c.REFUSAL_ACCURACY: rows.loc[rows["category"].isin(_REFUSE_OK), "correct"],
        c.OVER_REFUSAL_RATE: rows.loc[answerable, "refused"].astype(float),
        c.HIT_AT_K: rows["hit_at_k"],
        c.CONTEXT_PRECISION: rows["context_precision"],
        c.CONTEXT_USE_RATE: rows["context_use_rate"],
        c.TOKENS_IN_PER_REQUEST: rows["tokens_in"],
        c.TOKENS_OUT_PER_REQUEST: rows["tokens_out"],
        c.COST_USD_PER_REQUEST: rows["cost_usd"],
    }
    missing = []
    for name, series in optional.items():
        present = pd.to_numeric(series, errors="coerce").dropna()
        if present.empty:
            missing.append(name)
        else:
            values[name] = float(present.mean())
    latency = pd.to_numeric(rows["latency_ms"], errors="coerce").dropna().to_numpy()
    if latency.size:
        for name, q in ((c.LATENCY_MS_P50, 50), (c.LATENCY_MS_P95, 95), (c.LATENCY_MS_P99, 99)):
            values[name] = float(np.percentile(latency, q))
    else:
        missing += [c.LATENCY_MS_P50, c.LATENCY_MS_P95, c.LATENCY_MS_P99]
    if "latency_ms_reported" in rows:  # what the model says of itself, beside the measurement
        reported = pd.to_numeric(rows["latency_ms_reported"], errors="coerce").dropna()
        if not reported.empty:
            values[c.LATENCY_MS_REPORTED_P95] = float(np.percentile(reported, 95))
    if c.COST_USD_PER_REQUEST in values:
        values[c.COST_USD_TOTAL] = float(pd.to_numeric(rows["cost_usd"], errors="coerce").sum())
    else:
        missing.append(c.COST_USD_TOTAL)
    return EvalMetrics(values=values, missing=tuple(missing))


def bootstrap_ci(scores: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean at CI_LEVEL."""
    if scores.size < 2:
        value = float(scores.mean()) if scores.size else float("nan")
        return value, value
    means = np.empty(BOOTSTRAP_RESAMPLES)
    for i in range(BOOTSTRAP_RESAMPLES):
        means[i] = scores[rng.integers(0, scores.size, scores.size)].mean()
    tail = (1 - CI_LEVEL) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
