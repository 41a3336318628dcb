"""The figures of a load run, from its results table: pure functions, names with units."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from raygate.errors import ConfigError

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


def _percentiles(values: np.ndarray, prefix: str) -> dict[str, float | None]:
    if values.size == 0:
        return {f"{prefix}_p{p}": None for p in PERCENTILES}
    computed = np.percentile(values, PERCENTILES)
    return {f"{prefix}_p{p}": float(v) for p, v in zip(PERCENTILES, computed, strict=True)}


def summarize(
    table: pa.Table, duration_s: float, slos: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """Throughput, goodput, errors by type, latency/TTFT/ITL percentiles, tokens/s, cost.

    A request is *good* when it succeeded and its own latency, TTFT and mean ITL meet the
    per-request SLOs given (vLLM's definition of goodput); goodput is good requests per second.
    """
    slos = dict(slos or {})
    count = table.num_rows
    ok = np.asarray(table.column("ok").to_pylist(), dtype=bool) if count else np.zeros(0, bool)
    latency = column_floats(table, "latency_ms")
    service = column_floats(table, "service_ms")
    ttft = column_floats(table, "ttft_ms")
    itl_lists = table.column("itl_ms").to_pylist() if count else []
    itl_all = np.asarray([g for gaps in itl_lists for g in (gaps or [])], dtype=float)
    tokens_out = column_floats(table, "tokens_out")
    cost = column_floats(table, "cost_usd")
    errors = Counter(e for e in table.column("error").to_pylist() if e) if count else Counter()
    variants = Counter(v for v in table.column("variant").to_pylist() if v) if count else Counter()
    answered_by: dict[str, Counter] = {}
    if count:
        for variant, model_id in zip(
            table.column("variant").to_pylist(), table.column("model_id").to_pylist(), strict=True
        ):
            if model_id:
                answered_by.setdefault(variant or "unknown", Counter())[model_id] += 1
    outcomes = (
        Counter(
            f"{status or 'no_response'} {reason or '-'}"
            for status, reason in zip(
                table.column("status").to_pylist(),
                table.column("finish_reason").to_pylist(),
                strict=True,
            )
        )
        if count
        else Counter()
    )
    good = ok.copy()
    for name, limit in slos.items():
        good &= _meets_per_request(name, limit, latency, ttft, itl_lists)
    succeeded = int(ok.sum())
    summary: dict[str, Any] = {
        "requests": count,
        "succeeded": succeeded,
        "failed": count - succeeded,
        "duration_s": duration_s,
        "throughput_rps": succeeded / duration_s if duration_s else 0.0,
        "goodput_rps": int(good.sum()) / duration_s if duration_s else 0.0,
        "error_rate": (count - succeeded) / count if count else 0.0,
        "errors_by_type": dict(errors.most_common()),
        "outcomes": dict(outcomes.most_common()),  # "STATUS finish_reason": requests
        **_percentiles(latency[ok], "latency_ms"),
        **_percentiles(service[ok], "service_ms"),
        **_percentiles(ttft[~np.isnan(ttft)], "ttft_ms"),
        **_percentiles(itl_all, "itl_ms"),
        "output_tokens_per_s": float(np.nansum(tokens_out)) / duration_s if duration_s else 0.0,
        "cost_usd_total": float(np.nansum(cost)) if np.any(~np.isnan(cost)) else None,
        "requests_by_variant": dict(variants),
        # which versions answered, per variant: binds a load run to the models it exercised
        "model_ids_by_variant": {v: dict(c) for v, c in answered_by.items()},
    }
    if slos:
        summary["slo"] = judge_slos(summary, slos)
    return summary


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


def column_floats(table: pa.Table, column: str) -> np.ndarray:
    """A results column as floats; missing values become NaN."""
    if table.num_rows == 0:
        return np.zeros(0)
    return np.asarray(
        [np.nan if v is None else v for v in table.column(column).to_pylist()], dtype=float
    )
