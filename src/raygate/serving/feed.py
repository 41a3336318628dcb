"""The router's feed to the canary's in-cluster aggregator: per-request observations buffered
and sent in batches once a second, only while an aggregator runs (a controller started it)."""

from __future__ import annotations

import threading
import time
from typing import Any

from raygate.constants import AGGREGATOR_ACTOR, AGGREGATOR_NAMESPACE
from raygate.telemetry.records import RequestRecord

FLUSH_EVERY_S = 1.0
LOOKUP_EVERY_S = 2.0
MAX_BUFFER = 10_000  # observations held while the aggregator is unreachable; older ones drop
OBSERVATION_FIELDS = ("ts", "variant", "status", "finish_reason", "latency_ms", "tokens_in",
                      "tokens_out", "cost_usd", "safety_flags")  # fmt: skip


class ObservationFeed:
    """Buffers observations; a daemon thread sends them to the aggregator actor if it exists
    (looked up by name every LOOKUP_EVERY_S, so a restarted or stopped one is noticed)."""

    def __init__(self, model_name: str) -> None:
        self._model_name = model_name  # the aggregator keeps each model's traffic apart
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._actor = None
        self._looked_up_at = -float("inf")
        self.dropped = 0
        threading.Thread(target=self._run, name="raygate-feed", daemon=True).start()

    def add(self, record: RequestRecord) -> None:
        if self._actor is None:
            return  # no aggregator at the last look-up: nobody is judging this traffic
        observation = {name: getattr(record, name) for name in OBSERVATION_FIELDS}
        observation["model"] = self._model_name
        with self._lock:
            if len(self._buffer) >= MAX_BUFFER:
                self._buffer.pop(0)
                self.dropped += 1
            self._buffer.append(observation)

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_EVERY_S)
            try:
                self._flush()
            except Exception:  # the feed must never take the router down
                self._actor = None

    def _flush(self) -> None:
        now = time.monotonic()
        if now - self._looked_up_at >= LOOKUP_EVERY_S:  # started, restarted or stopped since?
            self._looked_up_at = now
            self._actor = _lookup()
        if self._actor is None:
            with self._lock:
                self._buffer.clear()
            return
        with self._lock:
            batch, self._buffer = self._buffer, []
        if batch:
            self._actor.record.remote(batch)


def _lookup():
    import ray

    try:
        return ray.get_actor(AGGREGATOR_ACTOR, namespace=AGGREGATOR_NAMESPACE)
    except ValueError:
        return None
