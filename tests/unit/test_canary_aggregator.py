"""The in-cluster aggregator's bucket store and the release store's metric mapping."""

from raygate.canary.aggregator import BucketStore
from raygate.canary.store import _look_metrics


def obs(ts, variant="canary", status=200, latency_ms=50.0, model="agent", **extra):
    return {"ts": ts, "variant": variant, "status": status, "finish_reason": "answer",
            "latency_ms": latency_ms, "cost_usd": 0.001, "safety_flags": [], "model": model,
            **extra}  # fmt: skip


def test_a_window_holds_exactly_the_buckets_that_start_inside_it():
    store = BucketStore(bucket_s=5)
    store.add([obs(100.0), obs(104.9), obs(105.0, "champion"), obs(112.0, status=502)])
    first = store.window("agent", 100, 105)
    assert (first.canary.requests, first.champion.requests) == (2, 0)
    both = store.window("agent", 100, 115)
    assert (both.canary.requests, both.canary.errors, both.champion.requests) == (3, 1, 1)
    assert both.canary.latency_ms.count == 2  # a failed request's latency is not judged


def test_memory_is_bounded_by_buckets_whatever_the_traffic():
    store = BucketStore(bucket_s=1, keep=10)
    store.add(obs(float(t)) for t in range(1000))
    assert len(store) == 10
    assert store.window("agent", 0, 990).canary.requests == 0
    assert store.window("agent", 990, 1000).canary.requests == 10


def test_each_model_s_traffic_is_kept_apart():
    store = BucketStore()
    store.add([obs(1.0), obs(2.0, model="other"), obs(3.0, model="other", status=502)])
    assert store.window("agent", 0, 10).canary.requests == 1
    other = store.window("other", 0, 10).canary
    assert (other.requests, other.errors) == (2, 1)
    assert store.window("nobody", 0, 10).canary.requests == 0


def test_an_observation_that_does_not_validate_is_counted_not_fatal():
    store = BucketStore()
    store.add([obs(1.0), {"ts": "soon"}, obs(2.0, status=999)])
    assert store.rejected == 2 and store.window("agent", 0, 10).canary.requests == 1


def test_a_missing_figure_is_not_logged_as_zero():
    look = {"canary_requests": 10, "champion_requests": 90, "weight_percent": 10,
            "metrics": [{"metric": "cost_usd", "evidence": {"canary": None, "champion": 0.002,
                         "ratio": None, "ratio_lower": 0.0, "ratio_upper": None}}]}  # fmt: skip
    metrics = _look_metrics(look)
    assert "cost_usd.canary" not in metrics and "cost_usd.ratio" not in metrics
    assert metrics["cost_usd.champion"] == 0.002 and metrics["canary_requests"] == 10


def test_prometheus_buckets_become_a_sketch_with_each_value_at_its_bucket_s_upper_edge():
    from raygate.canary.prometheus import _histogram
    from raygate.sketch import bucket_edges

    cumulative = {("canary", "10"): 3.0, ("canary", "50"): 7.0, ("canary", "+Inf"): 8.0,
                  ("champion", "10"): 1.0}  # fmt: skip
    sketch = _histogram(cumulative, "canary")
    assert sketch.count == 8
    assert sketch.count_above(sketch.quantile_bucket(0.3)) == 5  # 3 at ≤10, 4 at ≤50, 1 above
    low, high = bucket_edges(sketch.quantile_bucket(0.99))
    assert low < 100 <= high  # +Inf: one doubling above the last finite edge


def test_prometheus_increases_sum_each_worker_s_series_so_a_replica_that_ended_still_counts():
    from raygate.canary.prometheus import increase_by

    def series(worker: str, variant: str) -> frozenset:
        return frozenset({"WorkerId": worker, "variant": variant, "code": "500"}.items())

    before = {series("a", "canary"): 60.0, series("b", "canary"): 40.0}
    after = {
        series("a", "canary"): 70.0,  # died after 10 more: its last value, not a vanished one
        series("b", "canary"): 45.0,
        series("c", "canary"): 4.0,  # born inside the window: counts from 0
        series("d", "champion"): 2.0,
    }
    assert increase_by(("variant", "code"), before, after) == {
        ("canary", "500"): 19.0, ("champion", "500"): 2.0}  # fmt: skip
    restarted = {series("a", "canary"): 3.0}  # a counter reset counts from 0, never negative
    assert increase_by(("variant",), before, restarted) == {("canary",): 3.0}
