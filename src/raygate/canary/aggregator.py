"""The default metric provider: routers send per-request observations in batches to one named
Ray actor that keeps per-variant counts and sketches in fixed time buckets (memory bounded by
the number of buckets kept, whatever the traffic), and the controller reads windows of them."""

from __future__ import annotations

import contextlib
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
    """Observations summed into BUCKET_S-wide buckets of both variants, the newest kept."""

    def __init__(self, bucket_s: float = BUCKET_S, keep: int = KEEP_BUCKETS) -> None:
        self.bucket_s, self.keep = bucket_s, keep
        self._buckets: dict[int, WindowPair] = {}
        self.rejected = 0  # observations that did not validate (counted, never fatal)

    def add(self, observations: Iterable[Mapping[str, Any]]) -> None:
        for raw in observations:
            try:
                obs = Observation.model_validate(raw)
            except ValidationError:
                self.rejected += 1
                continue
            index = math.floor(obs.ts / self.bucket_s)
            bucket = self._buckets.get(index)
            if bucket is None:
                bucket = self._buckets[index] = WindowPair()
                while len(self._buckets) > self.keep:
                    del self._buckets[min(self._buckets)]
            bucket.add(obs)

    def window(self, start_ts: float, end_ts: float) -> WindowPair:
        """The buckets that start in [start_ts, end_ts), merged."""
        total = WindowPair()
        for index, bucket in self._buckets.items():
            if start_ts <= index * self.bucket_s < end_ts:
                total = WindowPair(
                    total.canary.merge(bucket.canary), total.champion.merge(bucket.champion)
                )
        return total

    def __len__(self) -> int:
        return len(self._buckets)


class Aggregator:
    """The Ray actor (named AGGREGATOR_ACTOR, detached) holding one BucketStore."""

    def __init__(self) -> None:
        self._store = BucketStore()

    def record(self, observations: list[dict[str, Any]]) -> None:
        self._store.add(observations)

    def window(self, start_ts: float, end_ts: float) -> WindowPair:
        return self._store.window(start_ts, end_ts)

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


def stop_aggregator() -> None:
    """Kill the aggregator actor if it runs (routers then drop their observations)."""
    import ray

    with contextlib.suppress(ValueError):
        ray.kill(ray.get_actor(AGGREGATOR_ACTOR, namespace=AGGREGATOR_NAMESPACE))


class InClusterProvider:
    """MetricsProvider on the aggregator actor of the Ray cluster this process is connected to."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self._actor = start_aggregator()
        self._timeout_s = timeout_s

    def window(self, start_ts: float, end_ts: float) -> WindowPair:
        import ray

        try:
            return ray.get(self._actor.window.remote(start_ts, end_ts), timeout=self._timeout_s)
        except Exception as exc:  # actor restarting, GCS unreachable, timeout
            raise MetricsError(f"the in-cluster aggregator did not answer: {exc}") from None

    def settled_until(self, now: float) -> float:
        return math.floor((now - FLUSH_LAG_S) / BUCKET_S) * BUCKET_S

    def boundary_after(self, ts: float) -> float:
        return math.ceil(ts / BUCKET_S) * BUCKET_S
