"""The figures of a load run, summed as its results stream in: names with units."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from raygate.errors import ConfigError
from raygate.sketch import Quantiles

PERCENTILES = (50, 90, 95, 99)
# SLO names a run can be judged on, and whether the limit is an upper (True) bound.
SLO_METRICS = {
    **{f"latency_ms_p{p}": True for p in PERCENTILES},
    **{f"ttft_ms_p{p}": True for p in PERCENTILES},
    **{f"itl_ms_p{p}": True for p in PERCENTILES},
    "error_rate": True,
    "throughput_rps": False,
}
_SLO = re.compile(r"^(?P<name>[a-z0-9_]+)=(?P<value>[0-9.eE+-]+)$")
# A run whose sends ended later than this share of its duration after the window fell behind.
FELL_BEHIND_SHARE = 0.02
_READ = ("ok", "latency_ms", "service_ms", "ttft_ms", "itl_ms", "scheduled_s", "tokens_out",
         "cost_usd", "error", "variant", "model_id", "status", "finish_reason")  # fmt: skip


def parse_slos(items: list[str]) -> dict[str, float]:
    """`latency_ms_p95=800` style SLOs; an unknown name or a bad number is a ConfigError."""
    slos: dict[str, float] = {}
    for item in items:
        match = _SLO.match(item.strip())
        if match is None or match["name"] not in SLO_METRICS:
            known = ", ".join(SLO_METRICS)
            raise ConfigError(f"bad SLO {item!r}: write NAME=VALUE with NAME one of {known}")
        try:
            slos[match["name"]] = float(match["value"])
        except ValueError:
            raise ConfigError(f"bad SLO {item!r}: {match['value']!r} is not a number") from None
    return slos


def _percentiles(quantiles: Quantiles, prefix: str) -> dict[str, float | None]:
    return {f"{prefix}_p{p}": quantiles.percentile(p) for p in PERCENTILES}


class LoadAccumulator:
    """A load run's figures, summed as its results stream in (one results table at a time):
    counts, sums and percentile sketches, so memory is bounded by the distinct labels seen
    (errors, variants, versions), never by the number of requests.

    A request is *good* when it succeeded and its own latency, TTFT and mean ITL meet the
    per-request SLOs given (vLLM's definition of goodput); goodput is good requests per second.
    `window_s` (open loop) is the run's planned duration, for how well sends kept the schedule.
    """

    def __init__(self, slos: Mapping[str, float] | None = None, window_s: float | None = None):
        self._slos = dict(slos or {})
        self._window_s = window_s
        self.requests = self.succeeded = self.good = self.due_in_window = 0
        self._latency, self._service, self._ttft, self._itl, self._lag = (
            Quantiles(), Quantiles(), Quantiles(), Quantiles(), Quantiles(),
        )  # fmt: skip
        self._tokens_out, self._cost, self._costed = 0.0, 0.0, 0
        self._errors: Counter = Counter()
        self._variants: Counter = Counter()
        self._outcomes: Counter = Counter()
        self._answered_by: dict[str, Counter] = {}
        self.last_answer_s = 0.0  # latest scheduled send + latency: the end of the run
        self._last_send_s = 0.0

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        columns = {name: table.column(name).to_pylist() for name in _READ}
        ok = np.asarray(columns["ok"], dtype=bool)
        latency, service = _floats(columns["latency_ms"]), _floats(columns["service_ms"])
        ttft, scheduled = _floats(columns["ttft_ms"]), _floats(columns["scheduled_s"])
        itl_lists = columns["itl_ms"]
        self.requests += table.num_rows
        self.succeeded += int(ok.sum())
        good = ok.copy()
        for name, limit in self._slos.items():
            good &= _meets_per_request(name, limit, latency, ttft, itl_lists)
        self.good += int(good.sum())
        self._latency.add_many(latency[ok])
        self._service.add_many(service[ok])
        self._ttft.add_many(ttft)
        self._itl.add_many([g for gaps in itl_lists for g in (gaps or [])])
        tokens_out, cost = _floats(columns["tokens_out"]), _floats(columns["cost_usd"])
        self._tokens_out += float(np.nansum(tokens_out))
        self._cost += float(np.nansum(cost))
        self._costed += int(np.sum(~np.isnan(cost)))
        self._errors.update(e for e in columns["error"] if e)
        self._variants.update(v for v in columns["variant"] if v)
        for variant, model_id in zip(columns["variant"], columns["model_id"], strict=True):
            if model_id:
                self._answered_by.setdefault(variant or "unknown", Counter())[model_id] += 1
        self._outcomes.update(
            f"{status or 'no_response'} {reason or '-'}"
            for status, reason in zip(columns["status"], columns["finish_reason"], strict=True)
        )
        self.last_answer_s = max(self.last_answer_s, float(np.max(scheduled + latency / 1000)))
        lag_ms = latency - service
        self._lag.add_many(lag_ms)
        self._last_send_s = max(self._last_send_s, float(np.max(scheduled + lag_ms / 1000)))
        if self._window_s is not None:
            self.due_in_window += int(np.sum(scheduled < self._window_s))

    def stop_window(self, elapsed_s: float) -> None:
        """The run was stopped `elapsed_s` into its schedule: its window ends there."""
        if self._window_s is not None:
            self._window_s = max(min(self._window_s, elapsed_s), 1e-9)

    def summary(self, duration_s: float) -> dict[str, Any]:
        """Throughput, goodput, errors by type, latency/TTFT/ITL percentiles, tokens/s, cost."""
        count, succeeded = self.requests, self.succeeded
        summary: dict[str, Any] = {
            "requests": count,
            "succeeded": succeeded,
            "failed": count - succeeded,
            "duration_s": duration_s,
            "throughput_rps": succeeded / duration_s if duration_s else 0.0,
            "goodput_rps": self.good / duration_s if duration_s else 0.0,
            "error_rate": (count - succeeded) / count if count else 0.0,
            "errors_by_type": dict(self._errors.most_common()),
            "outcomes": dict(self._outcomes.most_common()),  # "STATUS finish_reason": requests
            **_percentiles(self._latency, "latency_ms"),
            **_percentiles(self._service, "service_ms"),
            **_percentiles(self._ttft, "ttft_ms"),
            **_percentiles(self._itl, "itl_ms"),
            "output_tokens_per_s": self._tokens_out / duration_s if duration_s else 0.0,
            "cost_usd_total": self._cost if self._costed else None,
            "requests_by_variant": dict(self._variants),
            # which versions answered, per variant: binds a load run to the models it exercised
            "model_ids_by_variant": {v: dict(c) for v, c in self._answered_by.items()},
            # "exact" or "sketch": the percentiles' method (sketch: within RELATIVE_ERROR)
            "percentiles": "exact" if self._latency.exact else "sketch",
        }
        if self._slos:
            summary["slo"] = judge_slos(summary, self._slos)
        return summary

    def send_accuracy(self) -> dict[str, Any]:
        """How well the client kept an open-loop schedule: the rate of the requests due in the
        window that were sent (late ones count: their lateness is in their latency), how late
        sends were, and whether the client fell behind (its last send long after the window)."""
        window = self._window_s
        if window is None:
            raise ValueError("send accuracy needs the open-loop window (window_s)")
        if self.requests == 0:
            return {"achieved_rate_rps": 0.0, "send_lag_ms_p50": None, "send_lag_ms_p99": None,
                    "fell_behind": False}  # fmt: skip
        overrun_s = max(0.0, self._last_send_s - window)
        return {
            "achieved_rate_rps": self.due_in_window / window,
            "send_lag_ms_p50": self._lag.percentile(50),
            "send_lag_ms_p99": self._lag.percentile(99),
            "send_overrun_s": overrun_s,
            "fell_behind": overrun_s > FELL_BEHIND_SHARE * window,
        }


def judge_slos(summary: Mapping[str, Any], slos: Mapping[str, float]) -> dict[str, Any]:
    """Each SLO against the run's figure: value, limit, pass; an unmeasured figure fails."""
    checks = {}
    for name, limit in slos.items():
        value = summary.get(name)
        upper = SLO_METRICS[name]
        passed = value is not None and (value <= limit if upper else value >= limit)
        checks[name] = {"value": value, "limit": limit, "passed": passed}
    return {"passed": all(c["passed"] for c in checks.values()), "checks": checks}


def _meets_per_request(
    name: str, limit: float, latency: np.ndarray, ttft: np.ndarray, itl_lists: list
) -> np.ndarray:
    """Per-request part of an SLO for goodput; run-level SLOs (rates) leave requests good."""
    if name.startswith("latency_ms"):
        return latency <= limit
    if name.startswith("ttft_ms"):
        return np.nan_to_num(ttft, nan=np.inf) <= limit
    if name.startswith("itl_ms"):
        means = np.asarray([np.mean(g) if g else 0.0 for g in itl_lists], dtype=float)
        return means <= limit
    return np.ones(latency.shape, dtype=bool)


def _floats(values: list) -> np.ndarray:
    """A results column as floats; missing values become NaN."""
    return np.asarray([np.nan if v is None else v for v in values], dtype=float)
