"""The router's telemetry for each routed request: its record (a JSON line) and its
per-variant Prometheus metrics, both from one RequestRecord."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from raygate.serving.feed import ObservationFeed
from raygate.telemetry.metrics import VariantMetrics
from raygate.telemetry.records import RecordWriter, build_record, record_key, records_enabled

CALLER_FIELDS = ("request_id", "user_id", "session_id")


class RequestObserver:
    """Records and counts what the router saw, and feeds the canary's aggregator; records can
    be turned off, metrics cannot."""

    def __init__(self, model_name: str = "") -> None:
        self._metrics = VariantMetrics(model_name)
        self._feed = ObservationFeed(model_name)
        self._writer = RecordWriter() if records_enabled() else None
        self._key = record_key()

    def observe(
        self,
        *,
        variant: str,
        status: int,
        prediction: Mapping[str, Any] | None,
        row: Mapping[str, Any],
        latency_ms: float,
        span_id: str | None,
        finish_reason: str | None = None,
    ) -> None:
        """One routed request; a request no variant answered (503) has no prediction."""
        prediction = dict(prediction or {})
        if finish_reason is not None:
            prediction["finish_reason"] = finish_reason
        record = build_record(
            prediction,
            source="serve",
            variant=variant,
            status=status,
            key=self._key,
            caller={k: row.get(k) for k in CALLER_FIELDS},
            latency_ms=latency_ms,
            span_id=span_id,
        )
        self._metrics.observe(record)
        self._feed.add(record)
        if self._writer is not None:
            self._writer.write(record)
