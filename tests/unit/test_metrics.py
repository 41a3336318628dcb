import numpy as np
import pandas as pd
import pytest

from raygate.evaluation.metrics import MetricsAccumulator, bootstrap_ci, compute_metrics


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
    scores = np.array([1.0] * 60 + [0.0] * 40)
    low, high = bootstrap_ci(scores, np.random.default_rng(1))
    assert (low, high) == bootstrap_ci(scores, np.random.default_rng(1))
    assert 0.45 < low < 0.6 < high < 0.75
