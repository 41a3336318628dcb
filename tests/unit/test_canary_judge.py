"""The canary judge's statistics: sketch, bounds, verdicts; seeded simulations, no Ray."""

import math

import numpy as np
import pytest

from raygate.canary.judge import JudgeState, Verdict, judge, observe
from raygate.canary.observations import Observation, VariantWindow, WindowPair
from raygate.canary.policy import RolloutPolicy
from raygate.canary.sequential import (
    mixture_weights,
    quantile_bounds,
    ratio_bounds,
    ratio_loglik_step,
)
from raygate.canary.simulate import Traffic, window_pair
from raygate.sketch import GROWTH, LogHistogram

ONE_STEP = [{"weight_percent": 5, "min_duration_s": 0}]


def policy(**metrics) -> RolloutPolicy:
    off = {
        name: None
        for name in ("error_rate", "safety_block_rate", "refusal_rate", "latency_ms", "cost_usd")
    }
    return RolloutPolicy(steps=ONE_STEP, metrics={**off, **metrics})


def test_sketch_quantiles_are_within_one_bucket_and_merge_adds():
    rng = np.random.default_rng(0)
    a, b = rng.lognormal(5, 1, 5000), rng.lognormal(6, 0.5, 3000)
    left, right = LogHistogram(), LogHistogram()
    left.add_many(a)
    for value in b:
        right.add(value)
    merged = left.merge(right)
    both = np.concatenate([a, b])
    assert merged.count == both.size
    for p in (0.5, 0.9, 0.95, 0.99):
        exact = np.quantile(both, p, method="inverted_cdf")
        assert abs(math.log(merged.quantile(p) / exact)) <= math.log(GROWTH)


def test_sketch_memory_grows_with_the_range_not_the_count():
    sketch = LogHistogram()
    sketch.add_many(np.random.default_rng(1).uniform(10, 1000, 200_000))
    assert sketch.counts.size <= 32 * math.ceil(math.log2(1000 / 10)) + 1


def test_zero_and_negative_values_go_below_every_bucket():
    sketch = LogHistogram()
    sketch.add_many([0.0, 0.0, 5.0])
    assert sketch.count == 3 and sketch.quantile(0.5) == 0.0


def test_ratio_bounds_without_events_say_nothing():
    bounds = ratio_bounds(np.zeros(257), mixture_weights(0.5), 0.01, 0.01)
    assert bounds.lower == 0.0 and math.isinf(bounds.upper)
    assert ratio_loglik_step(0, 100, 0, 1900) is None


def test_count_bounds_hold_under_continuous_monitoring():
    """A/A, looked at after every window of 20 canary requests for 200 looks: the lower bound
    on the ratio exceeds the truth (1) in at most alpha of the runs."""
    rng = np.random.default_rng(7)
    alpha, runs, crossed = 0.05, 150, 0
    weights = mixture_weights(0.5)
    for _ in range(runs):
        loglik = np.zeros(257)
        for _ in range(200):
            step = ratio_loglik_step(
                int(rng.binomial(20, 0.05)), 20, int(rng.binomial(380, 0.05)), 380
            )
            if step is not None:
                loglik += step
                if ratio_bounds(loglik, weights, alpha, alpha).lower >= 1:
                    crossed += 1
                    break
    assert crossed / runs <= alpha


def test_quantile_bounds_cover_the_true_quantile_at_every_look():
    rng = np.random.default_rng(3)
    alpha, runs, missed = 0.05, 200, 0
    true_p95 = math.exp(norm_ppf(0.95))
    for _ in range(runs):
        sketch = LogHistogram()
        for _ in range(60):
            sketch.add_many(rng.lognormal(0, 1, 25))
            bounds = quantile_bounds(sketch, 0.95, alpha / 2, alpha / 2)
            # bucket edges widen the bounds; the truth must lie inside them
            if not bounds.lower <= true_p95 <= bounds.upper:
                missed += 1
                break
    assert missed / runs <= alpha


def norm_ppf(p: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(p))


def run_release(
    pol: RolloutPolicy,
    canary: Traffic,
    seed: int,
    looks: int,
    per_look: int = 400,
    champion: Traffic | None = None,
):
    """The judge's verdicts after each of `looks` windows (canary at 5 %)."""
    rng = np.random.default_rng(seed)
    metrics, state = pol.judged_metrics(), JudgeState()
    champion = champion or Traffic()
    verdicts = []
    for _ in range(looks):
        state = observe(state, window_pair(champion, canary, per_look, 0.05, rng), metrics)
        verdicts.append(judge(state, metrics))
    return verdicts


def test_aa_false_rollback_rate_stays_within_alpha_when_looking_after_every_batch():
    pol = RolloutPolicy(steps=ONE_STEP)  # every default metric, alpha 0.05 over all of them
    releases = 60
    failed = sum(
        any(v.verdict is Verdict.FAIL for v in run_release(pol, Traffic(), seed, 80, 800))
        for seed in range(releases)
    )
    assert failed / releases <= pol.max_false_rollback


@pytest.mark.parametrize(
    ("metric", "factor", "spec"),
    [
        ("error_rate", 3.0, {"error_rate": {"max_increase": 0.5}}),
        ("latency_ms", 1.6, {"latency_ms": {"quantile": 0.95, "max_increase": 0.2}}),
        ("cost_usd", 1.5, {"cost_usd": {"quantile": 0.5, "max_increase": 0.2}}),
    ],
)
def test_a_regression_fails(metric, factor, spec):
    verdicts = run_release(policy(**spec), Traffic().regressed(metric, factor), 1, looks=100)
    assert verdicts[-1].verdict is Verdict.FAIL
    assert verdicts[-1].metrics[0].ratio_lower >= 1


def test_a_regression_too_small_to_matter_does_not_fail():
    """Errors ×1.05 with max_increase 0.5: passes eventually, never fails."""
    pol = policy(error_rate={"max_increase": 0.5})
    champion = Traffic(error_rate=0.05)
    canary = champion.regressed("error_rate", 1.05)
    verdicts = run_release(pol, canary, 2, 150, per_look=2000, champion=champion)
    assert all(v.verdict is not Verdict.FAIL for v in verdicts)
    assert verdicts[-1].verdict is Verdict.PASS


def test_no_difference_passes_with_its_evidence():
    pol = policy(refusal_rate={"max_increase": 0.5})
    verdict = run_release(pol, Traffic(), 4, 150, per_look=2000)[-1]
    assert verdict.verdict is Verdict.PASS
    refusal = verdict.metrics[0].to_dict()
    assert refusal["evidence"]["ratio_upper"] <= 1.5 and refusal["evidence"]["canary_n"] > 0


def test_without_canary_traffic_every_metric_is_inconclusive():
    pol = RolloutPolicy(steps=ONE_STEP)
    champion = VariantWindow()
    for i in range(500):
        champion.add(Observation(ts=i, variant="champion", status=200, finish_reason="answer",
                                 latency_ms=100, cost_usd=0.001))  # fmt: skip
    verdict = judge(observe(JudgeState(), WindowPair(champion=champion), pol.judged_metrics()),
                    pol.judged_metrics())  # fmt: skip
    assert {m.verdict for m in verdict.metrics} == {Verdict.INCONCLUSIVE}


def test_missing_cost_is_missing_never_zero():
    pol = policy(cost_usd={"quantile": 0.5, "max_increase": 0.2})
    window = WindowPair()
    for i in range(300):
        window.add(Observation(ts=i, variant="champion", status=200, finish_reason="answer",
                               latency_ms=50, cost_usd=0.002))  # fmt: skip
        window.add(Observation(ts=i, variant="canary", status=200, finish_reason="answer",
                               latency_ms=50, cost_usd=None))  # fmt: skip
    metric = judge(observe(JudgeState(), window, pol.judged_metrics()), pol.judged_metrics())
    cost = metric.metrics[0]
    assert cost.verdict is Verdict.INCONCLUSIVE and cost.canary is None
    assert "missing" in cost.detail and window.canary.cost_missing == 300


def test_outcome_classes():
    def obs(**kw):
        base = {"ts": 0, "variant": "canary", "status": 200, "finish_reason": "answer"}
        return Observation(**{**base, **kw})

    window = VariantWindow()
    for o in (
        obs(status=502, finish_reason="error"),
        obs(status=429, finish_reason="rate_limited"),
        obs(status=200, finish_reason="deadline"),  # an old record: still a failure
        obs(status=422, finish_reason="error"),  # the caller's mistake: not judged
        obs(finish_reason="refused", safety_flags=["refused:weapons"]),
        obs(safety_flags=["pii_redacted_input:email"]),  # input redaction alone: no block
        obs(safety_flags=["pii_redacted_output:phone"]),
    ):
        window.add(o)
    assert (window.requests, window.errors, window.caller_errors) == (6, 3, 1)
    assert (window.refusals, window.safety_blocks) == (1, 2)


def test_a_canary_below_the_negligible_rate_passes_when_neither_variant_fails():
    """A ratio of 0 events to 0 events says nothing; the canary's own rate can."""
    pol = policy(error_rate={"max_increase": 0.5, "negligible_rate": 0.002})
    never_fails = Traffic(error_rate=0.0)
    verdicts = run_release(pol, never_fails, 5, 60, per_look=4000, champion=never_fails)
    assert verdicts[-1].verdict is Verdict.PASS
    assert "negligible" in verdicts[-1].metrics[0].detail
    without = policy(error_rate={"max_increase": 0.5, "negligible_rate": None})
    assert run_release(without, never_fails, 5, 60, 4000, never_fails)[-1].verdict is (
        Verdict.INCONCLUSIVE
    )


def test_a_canary_failing_where_the_champion_never_does_fails():
    pol = policy(error_rate={"max_increase": 0.5, "negligible_rate": 0.002})
    verdicts = run_release(pol, Traffic(error_rate=0.01), 6, 60, 4000, Traffic(error_rate=0.0))
    assert verdicts[-1].verdict is Verdict.FAIL
