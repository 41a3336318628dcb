"""A metric provider on Prometheus's HTTP API: both variants' counters and histogram buckets
read at the window's two ends and subtracted (exact counts, no rate extrapolation). Coarser
than the in-cluster aggregator: latency and cost come in the histograms' fixed buckets
(each value counted at its bucket's upper edge, alike for both variants), output tokens not
at all (reported missing), and Ray exports with a delay, so windows end `lag_s` before now."""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import requests

from raygate.canary.observations import (
    INFORMATIONAL_FLAG_PREFIXES,
    REFUSAL_FINISH_REASONS,
    VariantWindow,
    WindowPair,
)
from raygate.constants import FAILED_FINISH_REASONS
from raygate.errors import ConfigError, MetricsError, root_cause
from raygate.secrets import secret_sources
from raygate.sketch import LogHistogram, bucket_index
from raygate.telemetry.metrics import MODEL_TAG
from raygate.tracking import without_credentials

ENV_PROMETHEUS_TOKEN = "RAYGATE_PROMETHEUS_TOKEN"  # a secret: also _FILE or _VAULT
VARIANTS = ("champion", "canary")
LOOKBACK_S = 300  # as Prometheus's own for instant queries: a series seen this recently counts


class PrometheusProvider:
    """MetricsProvider reading raygate's series (`ray_raygate_*`) of one registered model
    (wherever it is served: one Serve app, or a gateway split's two clusters), or of one Serve
    application."""

    bucket_s = 1.0

    def __init__(
        self,
        url: str,
        model_name: str | None = None,
        application: str | None = None,
        lag_s: float = 20.0,
        timeout_s: float = 10.0,
        token: str | None = None,
    ) -> None:
        # Credentials in the URL (https://USER:PASSWORD@host) are sent, never shown: self.url,
        # which every message names, is the URL without them.
        self.url = without_credentials(url.rstrip("/"))
        self._session = requests.Session()
        self._session.auth = url_credentials(url)
        if token:  # a bearer token, for a Prometheus behind an authenticating proxy
            self._session.headers["Authorization"] = f"Bearer {token}"
        self._selector = selector(application, model_name)
        self.lag_s, self._timeout_s = lag_s, timeout_s

    def check(self) -> None:
        """A ConfigError unless a Prometheus that holds Ray's metrics answers at the URL:
        before a release acts, so that a mistyped URL is not a string of measurement errors
        that rolls the canary back, nor one that scrapes no Ray a canary never judged."""
        try:
            ray_series = self._query('count({__name__=~"ray_.+"})', time.time())
        except MetricsError as exc:
            raise ConfigError(
                f"{exc}; fix --prometheus (or $RAYGATE_PROMETHEUS_URL): the base URL of a "
                "Prometheus that scrapes the Serve app, e.g. http://127.0.0.1:9090"
            ) from None
        if not ray_series:
            raise ConfigError(
                f"the Prometheus at {self.url} holds no Ray metrics: add each Ray node's "
                "metrics port to its scrape targets (Ray writes them to "
                "/tmp/ray/prom_metrics_service_discovery.json for file_sd_configs; KubeRay: a "
                "PodMonitor), or point --prometheus at the one that does"
            )

    def window(self, start_ts: float, end_ts: float) -> WindowPair:
        labels = ("variant", "code", "finish_reason")
        requests_by = self._increase("ray_raygate_requests_total", labels, start_ts, end_ts)
        blocks = self._increase("ray_raygate_safety_blocks_total", ("variant", "rule"),
                                start_ts, end_ts)  # fmt: skip
        latency = self._increase("ray_raygate_request_latency_ms_bucket", ("variant", "le"),
                                 start_ts, end_ts)  # fmt: skip
        cost = self._increase("ray_raygate_request_cost_usd_bucket", ("variant", "le"),
                              start_ts, end_ts)  # fmt: skip
        windows = {variant: VariantWindow() for variant in VARIANTS}
        for (variant, code, reason), count in requests_by.items():
            if variant not in windows:
                continue
            window, status, n = windows[variant], int(code), round(count)
            if 400 <= status < 500 and status != 429:
                window.caller_errors += n
                continue
            window.requests += n
            if status >= 500 or status == 429 or reason in FAILED_FINISH_REASONS:
                window.errors += n
            elif reason in REFUSAL_FINISH_REASONS:
                window.refusals += n
        for (variant, rule), count in blocks.items():
            if variant in windows and not rule.startswith(INFORMATIONAL_FLAG_PREFIXES):
                windows[variant].safety_blocks += round(count)
        for variant, window in windows.items():
            window.latency_ms = _histogram(latency, variant)
            window.cost_usd = _histogram(cost, variant)
            window.cost_missing = max(0, window.requests - window.cost_usd.count)
            window.tokens_missing = window.requests  # Prometheus holds totals only
        return WindowPair(canary=windows["canary"], champion=windows["champion"])

    def settled_until(self, now: float) -> float:
        return math.floor(now - self.lag_s)

    def boundary_after(self, ts: float) -> float:
        return float(math.ceil(ts))

    def _increase(
        self, series: str, labels: tuple[str, ...], start_ts: float, end_ts: float
    ) -> dict[tuple[str, ...], float]:
        """Per label set, the sum over its series (one per Ray worker) of each series' last
        value by the window's end minus its last by the start. Read with `last_over_time`,
        not as instant values, so that a failed scrape (which marks every series stale) or a
        replica that died inside the window (its series ends) loses none of its counts."""
        selected = f"{series}{{{self._selector}}}"
        reach = math.ceil(end_ts - start_ts) + LOOKBACK_S
        before = self._query(f"last_over_time({selected}[{LOOKBACK_S}s])", start_ts)
        after = self._query(f"last_over_time({selected}[{reach}s])", end_ts)
        return increase_by(labels, before, after)

    def _query(self, query: str, at: float) -> dict[frozenset, float]:
        try:
            response = self._session.get(f"{self.url}/api/v1/query",
                                         params={"query": query, "time": f"{at:.3f}"},
                                         timeout=self._timeout_s)  # fmt: skip
        except requests.RequestException as exc:
            reason = root_cause(exc)
            raise MetricsError(f"Prometheus at {self.url} did not answer ({reason})") from None
        if response.status_code in (401, 403):
            raise MetricsError(
                f"Prometheus at {self.url} refused raygate (HTTP {response.status_code}): give "
                "its credentials as https://USER:PASSWORD@host in the URL, or a bearer token "
                f"in {secret_sources(ENV_PROMETHEUS_TOKEN)}"
            )
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
            raise MetricsError(
                f"{self.url} does not answer as Prometheus does: /api/v1/query gave HTTP "
                f"{response.status_code} without Prometheus's status field"
            )
        if body.get("status") != "success":
            raise MetricsError(f"Prometheus refused {query!r}: {body.get('error', body)}")
        return {
            frozenset(sample["metric"].items()): float(sample["value"][1])
            for sample in body["data"]["result"]
        }


def increase_by(
    labels: tuple[str, ...], before: dict[frozenset, float], after: dict[frozenset, float]
) -> dict[tuple[str, ...], float]:
    """Counter increases summed per label set: each series' value after minus its value
    before (a series born inside the window counts from 0; a counter reset counts from 0, not
    as a negative number)."""
    totals: dict[tuple[str, ...], float] = defaultdict(float)
    for series, value in after.items():
        start = before.get(series, 0.0)
        names = dict(series)
        totals[tuple(names.get(label, "") for label in labels)] += (
            value - start if value >= start else value
        )
    return dict(totals)


def url_credentials(url: str) -> tuple[str, str] | None:
    """The user and password (decoded) of https://USER:PASSWORD@host, if it has them."""
    parts = urlsplit(url)
    if parts.username is None:
        return None
    return unquote(parts.username), unquote(parts.password or "")


def selector(application: str | None, model_name: str | None) -> str:
    """PromQL label matchers for the series of one Serve application and/or one registered
    model (a Prometheus scraping several clusters sees every team's raygate apps)."""
    matchers = {"application": application, MODEL_TAG: model_name}
    return ",".join(f"{label}={json.dumps(value)}" for label, value in matchers.items() if value)


def _histogram(buckets: dict[tuple[str, ...], float], variant: str) -> LogHistogram:
    """Cumulative `le` buckets of one variant as a LogHistogram: each bucket's values at its
    upper edge (the +Inf bucket one doubling above the last edge)."""
    edges = sorted((float(le), count) for (name, le), count in buckets.items() if name == variant)
    histogram, below, last_finite = LogHistogram(), 0.0, None
    for le, cumulative in edges:
        count = round(cumulative - below)
        below = max(below, cumulative)
        if count <= 0:
            continue
        edge = le if math.isfinite(le) else 2 * (last_finite or 1.0)
        histogram.add_counts(bucket_index(edge), np.array([count]))
        if math.isfinite(le):
            last_finite = le
    return histogram
