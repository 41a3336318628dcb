"""The default metric provider: routers send per-request observations in batches to one named
Ray actor that keeps per-variant counts and sketches in fixed time buckets (memory bounded by
the number of buckets kept, whatever the traffic), and the controller reads windows of them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from raygate.canary.observations import Observation, WindowPair
from raygate.constants import AGGREGATOR_ACTOR, AGGREGATOR_NAMESPACE
from raygate.errors import MetricsError

BUCKET_S = 5.0  # windows the controller reads start and end on these boundaries
KEEP_BUCKETS = 1440  # two hours of buckets: a resumed controller re-reads its release's looks
FLUSH_LAG_S = 3.0  # routers flush every second; observations older than this have arrived


class BucketStore:
    """Observations summed into BUCKET_S-wide buckets of both variants, per model (a cluster
    may serve several); the newest KEEP_BUCKETS buckets of each model are kept."""

    def __init__(self, bucket_s: float = BUCKET_S, keep: int = KEEP_BUCKETS) -> None:
        self.bucket_s, self.keep = bucket_s, keep
        self._buckets: dict[str, dict[int, WindowPair]] = {}
        self.rejected = 0  # observations that did not validate (counted, never fatal)

    def add(self, observations: Iterable[Mapping[str, Any]]) -> None:
        for raw in observations:
            model = str(raw.get("model") or "")
            try:
                obs = Observation.model_validate(raw)
            except ValidationError:
                self.rejected += 1
                continue
            buckets = self._buckets.setdefault(model, {})
            index = math.floor(obs.ts / self.bucket_s)
            bucket = buckets.get(index)
            if bucket is None:
                bucket = buckets[index] = WindowPair()
                while len(buckets) > self.keep:
                    del buckets[min(buckets)]
            bucket.add(obs)

    def window(self, model: str, start_ts: float, end_ts: float) -> WindowPair:
        """The model's buckets that start in [start_ts, end_ts), merged."""
        total = WindowPair()
        for index, bucket in self._buckets.get(model, {}).items():
            if start_ts <= index * self.bucket_s < end_ts:
                total = WindowPair(
                    total.canary.merge(bucket.canary), total.champion.merge(bucket.champion)
                )
        return total

    def __len__(self) -> int:
        return sum(len(buckets) for buckets in self._buckets.values())


class Aggregator:
    """The Ray actor (named AGGREGATOR_ACTOR, detached) holding one BucketStore."""

    def __init__(self) -> None:
        self._store = BucketStore()

    def record(self, observations: list[dict[str, Any]]) -> None:
        self._store.add(observations)

    def window(self, model: str, start_ts: float, end_ts: float) -> WindowPair:
        return self._store.window(model, start_ts, end_ts)

    def stats(self) -> dict[str, Any]:
        return {"buckets": len(self._store), "rejected": self._store.rejected}


def start_aggregator():
    """The running aggregator actor, started (detached, no CPU) if there is none."""
    import ray

    actor = ray.remote(num_cpus=0, max_restarts=-1)(Aggregator)
    return actor.options(
        name=AGGREGATOR_ACTOR,
        namespace=AGGREGATOR_NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
    ).remote()


class InClusterProvider:
    """MetricsProvider on the aggregator actor of the Ray cluster this process is connected
    to: the traffic of one model's Serve app (its routers tag what they send with it)."""

    def __init__(self, model_name: str, timeout_s: float = 10.0) -> None:
        self._actor = start_aggregator()
        self._model_name, self._timeout_s = model_name, timeout_s

    def window(self, start_ts: float, end_ts: float) -> WindowPair:
        import ray

        try:
            window = self._actor.window.remote(self._model_name, start_ts, end_ts)
            return ray.get(window, timeout=self._timeout_s)
        except Exception as exc:  # actor restarting, GCS unreachable, timeout
            raise MetricsError(f"the in-cluster aggregator did not answer: {exc}") from None

    def settled_until(self, now: float) -> float:
        return math.floor((now - FLUSH_LAG_S) / BUCKET_S) * BUCKET_S

    def boundary_after(self, ts: float) -> float:
        return math.ceil(ts / BUCKET_S) * BUCKET_S
