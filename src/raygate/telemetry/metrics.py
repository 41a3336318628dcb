"""Per-variant Prometheus metrics, fed from request records inside Ray Serve: names carry
their unit, labels have bounded values (never ids of people, never content). Every series
carries `model`, the registered model the app serves, so one Prometheus scraping many apps
and clusters keeps each model's release apart.

Ray exports them with a `ray_` prefix and counters with `_total`; EXPORTED_NAMES lists the
series as Prometheus stores them, for alert rules and dashboards to be checked against.
"""

from __future__ import annotations

import re

from raygate.constants import FAILED_FINISH_REASONS
from raygate.telemetry.records import RequestRecord

LATENCY_BOUNDARIES_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000]
COUNTERS = {
    "raygate_requests": ("Requests answered, by variant, HTTP code and finish reason.",
                         ("variant", "model_id", "code", "finish_reason")),
    "raygate_errors": ("Failed requests (5xx, 429 or a failed finish reason), by type.",
                       ("variant", "model_id", "type")),
    "raygate_tokens": ("Tokens by type (input, output, cached).", ("variant", "model_id", "type")),
    "raygate_cost_usd": ("Cost in USD from the pricing table.", ("variant", "model_id")),
    "raygate_cost_unknown_requests": ("Requests whose cost is unknown (unpriced model).",
                                      ("variant", "model_id")),
    "raygate_safety_blocks": ("Requests a safety rule acted on, by rule.",
                              ("variant", "model_id", "rule")),
}  # fmt: skip
# Cost per answered request, USD: ×√10 steps from 1e-8 to 1 (the canary judge's quantiles
# of cost when it reads Prometheus; a total alone cannot give them).
COST_BOUNDARIES_USD = [round(10 ** (e / 2), 10) for e in range(-16, 1)]
HISTOGRAMS = {
    "raygate_request_latency_ms": ("End-to-end latency at the router, ms.", LATENCY_BOUNDARIES_MS),
    "raygate_llm_latency_ms": ("Time in the generator, ms.", LATENCY_BOUNDARIES_MS),
    "raygate_request_cost_usd": ("Cost of each answered request, USD.", COST_BOUNDARIES_USD),
}
EXPORTED_NAMES = frozenset(
    {f"ray_{name}_total" for name in COUNTERS}
    | {f"ray_{name}_{part}" for name in HISTOGRAMS for part in ("bucket", "sum", "count")}
)
KNOWN_FINISH_REASONS = frozenset(
    {"answer", "abstain", "refused", "content_filter", "stop", "length", "tool_calls",
     "max_steps", "loop_detected", "unavailable", "invalid_request"} | FAILED_FINISH_REASONS
)  # fmt: skip
INFORMATIONAL_FLAGS = ("pii_redacted_input",)  # changes nothing the user sees
_RULE_SHAPE = re.compile(r"^[a-z][a-z0-9_]{0,31}(?::[a-z0-9_,]{1,64})?$")
_MODEL_ID_SHAPE = re.compile(r"^[\w .:/@-]{1,128}$")
MODEL_TAG = "model"  # the registered model's name, one per app
_MAX_VALUES = 64


class BoundedLabel:
    """Label values of a set shape, at most `limit` distinct ones; the rest are `other`."""

    def __init__(self, shape: re.Pattern[str], limit: int = _MAX_VALUES) -> None:
        self._seen: set[str] = set()
        self._shape, self._limit = shape, limit

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if not self._shape.match(value) or len(self._seen) >= self._limit:
            return "other"
        self._seen.add(value)
        return value


class VariantMetrics:
    """The metrics of one Serve replica; `observe` turns one record into their updates."""

    def __init__(self, model_name: str = "") -> None:
        from ray.serve import metrics  # adds deployment/replica/application tags

        self._counters = {
            name: metrics.Counter(name, description, tag_keys=(MODEL_TAG, *keys))
            for name, (description, keys) in COUNTERS.items()
        }
        keys = (MODEL_TAG, "variant", "model_id")
        self._histograms = {
            name: metrics.Histogram(name, description, bounds, tag_keys=keys)
            for name, (description, bounds) in HISTOGRAMS.items()
        }
        model = model_name if _MODEL_ID_SHAPE.match(model_name) else "other"
        for metric in (*self._counters.values(), *self._histograms.values()):
            metric.set_default_tags({MODEL_TAG: model})
        self._rules = BoundedLabel(_RULE_SHAPE)
        self._models = BoundedLabel(_MODEL_ID_SHAPE)

    def observe(self, record: RequestRecord) -> None:
        model_id = self._models(record.model_id or "unknown")
        base = {"variant": record.variant, "model_id": model_id}
        reason = record.finish_reason if record.finish_reason in KNOWN_FINISH_REASONS else "other"
        count = self._counters
        count["raygate_requests"].inc(
            1, {**base, "code": str(record.status), "finish_reason": reason}
        )
        if record.status >= 500 or record.status == 429 or reason in FAILED_FINISH_REASONS:
            error_type = reason if reason in FAILED_FINISH_REASONS else f"http_{record.status}"
            count["raygate_errors"].inc(1, {**base, "type": error_type})
            return  # a failure's latency, tokens and cost say nothing about the variant's answers
        if record.latency_ms is not None:
            self._histograms["raygate_request_latency_ms"].observe(record.latency_ms, base)
        if record.latency_ms_llm is not None:
            self._histograms["raygate_llm_latency_ms"].observe(record.latency_ms_llm, base)
        for kind, tokens in (("input", record.tokens_in), ("output", record.tokens_out),
                             ("cached", record.tokens_cached)):  # fmt: skip
            if tokens:
                count["raygate_tokens"].inc(tokens, {**base, "type": kind})
        if record.cost_usd is None:
            count["raygate_cost_unknown_requests"].inc(1, base)
        else:
            self._histograms["raygate_request_cost_usd"].observe(record.cost_usd, base)
            if record.cost_usd > 0:
                count["raygate_cost_usd"].inc(record.cost_usd, base)
        for flag in record.safety_flags:
            if not flag.startswith(INFORMATIONAL_FLAGS):
                count["raygate_safety_blocks"].inc(1, {**base, "rule": self._rules(flag)})
