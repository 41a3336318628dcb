import numpy as np
import pandas as pd
import pytest

from raygate.evaluation.metrics import (
    ERROR_KINDS_KEPT,
    OTHER_ERRORS,
    SCORE_STEPS,
    FailedRows,
    MetricsAccumulator,
    bootstrap_ci,
    compute_metrics,
    error_kind,
)


def frame(**overrides):
    rows = {
        "id": ["b", "a", "c", "d"],
        "category": ["factual", "factual", "unanswerable", "disallowed"],
        "correct": [1.0, 0.0, 1.0, 0.0],
        "exact_match": [1.0, 0.0, 1.0, 0.0],
        "token_f1": [1.0, 0.5, 1.0, 0.0],
        "refused": [False, True, False, False],
        "pii_leaks": [0, 1, 0, 0],
        "hit_at_k": [1.0, 0.0, None, None],
        "context_precision": [1.0, 0.0, None, None],
        "context_use_rate": [None] * 4,
        "latency_ms": [10.0, 20.0, 30.0, 40.0],
        "tokens_in": [100, 200, None, None],
        "tokens_out": [5, 5, None, None],
        "cost_usd": [None] * 4,
        "error": [None, None, None, "boom"],
    }
    rows.update(overrides)
    return pd.DataFrame(rows)


def test_hand_computed_metrics():
    m = compute_metrics(frame(), seed=0)
    v = m.values
    assert v["rows"] == 4 and v["quality"] == 0.5 and v["token_f1"] == pytest.approx(0.625)
    assert v["quality.factual"] == 0.5 and v["rows.factual"] == 2
    assert v["abstention_accuracy"] == 1.0 and v["refusal_accuracy"] == 0.0
    assert v["over_refusal_rate"] == 0.5 and v["pii_leak_count"] == 1 and v["error_rate"] == 0.25
    assert v["hit_at_k"] == 0.5 and v["tokens_in_per_request"] == 150
    assert v["latency_ms_p50"] == 25.0
    assert v["quality_ci_low"] <= v["quality"] <= v["quality_ci_high"]


def test_unreported_figures_are_missing_not_zero():
    m = compute_metrics(frame(), seed=0)
    assert {"cost_usd_per_request", "cost_usd_total", "context_use_rate"} <= set(m.missing)
    assert "cost_usd_per_request" not in m.values


def test_metrics_do_not_depend_on_row_order_or_batching():
    one = MetricsAccumulator()
    one.add(frame())
    two = MetricsAccumulator()
    shuffled = frame().iloc[[3, 1, 0, 2]]
    two.add(shuffled.iloc[:1])
    two.add(shuffled.iloc[1:])
    assert one.finish(seed=5) == two.finish(seed=5)


def test_bootstrap_interval_is_seeded_and_covers_the_mean():
    bins = np.zeros(SCORE_STEPS + 1, np.int64)
    bins[0], bins[SCORE_STEPS] = 40, 60  # 60 of 100 rows correct
    low, high = bootstrap_ci(bins, np.random.default_rng(1))
    assert (low, high) == bootstrap_ci(bins, np.random.default_rng(1))
    assert 0.45 < low < 0.6 < high < 0.75


def test_a_share_gets_wilsons_interval_which_is_not_certain_of_a_few_rows():
    perfect = compute_metrics(frame(correct=[1.0] * 4, exact_match=[1.0] * 4), seed=0).values
    # 4 of 4 correct: a bootstrap said [1, 1]; Wilson's 95 % interval starts at 0.51.
    assert perfect["quality_ci_low"] == pytest.approx(0.5101, abs=1e-4)
    assert perfect["quality_ci_high"] == 1.0 and perfect["exact_match_ci_low"] < 0.52
    values = compute_metrics(frame(), seed=0).values  # 2 of 4
    assert values["quality_ci_low"] == pytest.approx(0.1500, abs=1e-4)
    assert values["quality_ci_high"] == pytest.approx(0.8500, abs=1e-4)


def test_the_binned_bootstrap_agrees_with_resampling_the_rows():
    rng = np.random.default_rng(3)
    scores = rng.beta(2, 5, size=400)  # token_f1-like scores in [0, 1]
    resampled = [scores[rng.integers(0, 400, 400)].mean() for _ in range(4000)]
    expected = np.percentile(resampled, [2.5, 97.5])
    bins = np.bincount(np.rint(scores * SCORE_STEPS).astype(int), minlength=SCORE_STEPS + 1)
    low, high = bootstrap_ci(bins, np.random.default_rng(4))
    assert low == pytest.approx(expected[0], abs=0.006)
    assert high == pytest.approx(expected[1], abs=0.006)


def test_percentiles_past_the_exact_range_stay_within_the_sketch_bound():
    from raygate.sketch import EXACT_UP_TO, RELATIVE_ERROR

    rng = np.random.default_rng(0)
    accumulator, latencies = MetricsAccumulator(), []
    for start in range(0, 3 * EXACT_UP_TO, 1000):
        ids = [f"r{start + i:06d}" for i in range(1000)]
        latency = rng.lognormal(3, 0.6, 1000)
        latencies.append(latency)
        batch = frame(id=ids[:4], latency_ms=latency[:4].tolist())
        batch = pd.concat([batch] * 250, ignore_index=True).assign(id=ids, latency_ms=latency)
        accumulator.add(batch)
    values = accumulator.finish(seed=0).values
    assert values["rows"] == 3 * EXACT_UP_TO
    exact = np.percentile(np.concatenate(latencies), [50, 95, 99])
    for name, truth in zip(
        ("latency_ms_p50", "latency_ms_p95", "latency_ms_p99"), exact, strict=True
    ):
        assert abs(values[name] / truth - 1) <= RELATIVE_ERROR + 0.002
    assert len(accumulator.failures) == 25 and accumulator.failures[0][0] == "r000001"


def test_failed_rows_are_counted_by_kind_of_error_with_the_first_by_gold_id():
    accumulator = MetricsAccumulator()
    timeout = "ModelTimeout: the model gave no answer within 60 s, the eval's row timeout"
    for batch in (
        [("q-3", timeout), ("q-4", "ValueError: bad code"), ("q-5", None)],
        [("q-1", timeout), ("q-2", "the inputs do not fit the model's signature: x")],
    ):
        rows = pd.DataFrame(batch, columns=["id", "error"]).assign(
            category="factual", correct=0.0, exact_match=0.0, token_f1=0.0, pii_leaks=0,
            refused=False,
        )  # fmt: skip
        accumulator.add(rows)
    assert accumulator.failed_rows == [
        FailedRows("ModelTimeout", 2, "q-1", timeout),
        FailedRows("ValueError", 1, "q-4", "ValueError: bad code"),
        FailedRows("the inputs do not fit the model's signature", 1, "q-2",
                   "the inputs do not fit the model's signature: x"),
    ]  # fmt: skip
    assert error_kind("no colon at all") == "no colon at all"


def test_kinds_of_error_beyond_those_kept_are_counted_together():
    accumulator = MetricsAccumulator()
    errors = [(f"q-{i:03d}", f"backend answered 500 for request {i}") for i in range(50)]
    accumulator.add(pd.DataFrame(errors, columns=["id", "error"]).assign(
        category="factual", correct=0.0, exact_match=0.0, token_f1=0.0, pii_leaks=0,
        refused=False,
    ))  # fmt: skip
    kinds = accumulator.failed_rows
    assert len(kinds) == ERROR_KINDS_KEPT + 1 and sum(kind.rows for kind in kinds) == 50
    assert kinds[0] == FailedRows(OTHER_ERRORS, 50 - ERROR_KINDS_KEPT, "q-020",
                                  "backend answered 500 for request 20")  # fmt: skip
