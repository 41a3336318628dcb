import numpy as np
import pytest
import yaml

from raygate.errors import GateError
from raygate.gates.decide import GateResult, PairedScores, decide
from raygate.gates.paired import bootstrap_regression, mcnemar_regression
from raygate.gates.policy import GatePolicy, load_policy

GOOD = {
    "quality": 0.8,
    "refusal_accuracy": 0.95,
    "pii_leak_count": 0.0,
    "latency_ms_p95": 100.0,
    "cost_usd_per_request": 0.001,
    "error_rate": 0.0,
}
ABSOLUTE_ONLY = GatePolicy(relative=None)


def verdicts(decision):
    return {g.name: g.verdict for g in decision.gates}


def test_all_gates_pass_on_good_metrics():
    decision = decide(ABSOLUTE_ONLY, GOOD, None)
    assert decision.passed and set(verdicts(decision).values()) == {"pass"}


@pytest.mark.parametrize(
    ("metric", "value", "gate"),
    [
        ("quality", 0.49, "quality"),
        ("refusal_accuracy", 0.89, "safety.refusals"),
        ("pii_leak_count", 1.0, "safety.pii_leaks"),
        ("latency_ms_p95", 801.0, "latency.p95"),
        ("cost_usd_per_request", 0.02, "cost.per_request"),
        ("error_rate", 0.05, "errors"),
    ],
)
def test_each_absolute_gate_fails_past_its_threshold(metric, value, gate):
    decision = decide(ABSOLUTE_ONLY, {**GOOD, metric: value}, None)
    assert not decision.passed and verdicts(decision)[gate] == "fail"
    assert [g.name for g in decision.gates if g.verdict == "fail"] == [gate]


def test_a_gate_at_its_threshold_passes():
    assert decide(ABSOLUTE_ONLY, {**GOOD, "quality": 0.5}, None).passed


def test_a_metric_the_model_did_not_report_fails_its_gate():
    metrics = {k: v for k, v in GOOD.items() if k != "cost_usd_per_request"}
    gate = next(
        g for g in decide(ABSOLUTE_ONLY, metrics, None).gates if g.name == "cost.per_request"
    )
    assert gate.verdict == "fail" and "not measured" in gate.detail
    assert "the model reports no cost_usd" in gate.detail


def test_a_gold_set_without_disallowed_rows_says_why_refusals_were_not_measured():
    metrics = {k: v for k, v in GOOD.items() if k != "refusal_accuracy"}
    (gate,) = [g for g in decide(ABSOLUTE_ONLY, metrics, None).gates if g.name == "safety.refusals"]
    assert gate.verdict == "fail"
    assert "no rows of category 'disallowed'; add some, or set refusal_accuracy_min: null" in (
        gate.detail
    )


def test_a_null_threshold_switches_the_gate_off():
    policy = GatePolicy.model_validate(
        {"absolute": {"cost_usd_per_request_max": None}, "relative": None}
    )
    metrics = {k: v for k, v in GOOD.items() if k != "cost_usd_per_request"}
    assert decide(policy, metrics, None).passed


def test_each_category_named_gets_its_own_quality_gate(tmp_path):
    path = tmp_path / "gates.yaml"
    path.write_text("relative: null\nabsolute:\n  category_quality_min:\n"
                    "    factual: 0.9\n    billing: 0.5\n")  # fmt: skip
    policy = load_policy(path)
    metrics = {**GOOD, "quality.factual": 0.95, "quality.billing": 0.4}
    gates = {g.name: g for g in decide(policy, metrics, None).gates}
    assert gates["quality.factual"].verdict == "pass"
    assert gates["quality.billing"].verdict == "fail"
    assert gates["quality.billing"].threshold == "quality.billing ≥ 0.5"
    missing = decide(policy, {**GOOD, "quality.factual": 0.95}, None)
    (gate,) = [g for g in missing.gates if g.name == "quality.billing"]
    assert not missing.passed and gate.verdict == "fail" and gate.measured is None
    assert "no rows of category 'billing'" in gate.detail
    path.write_text("absolute:\n  category_quality_min:\n    Tech Support: 0.5\n")
    assert load_policy(path).absolute.category_quality_min == {"tech_support": 0.5}  # as gold
    path.write_text("absolute:\n  category_quality_min:\n    '2024': 0.5\n")
    with pytest.raises(GateError, match=r"category_quality_min.*'2024' is not a category"):
        load_policy(path)
    path.write_text("absolute:\n  category_quality_min:\n    billing: 50\n")
    with pytest.raises(GateError, match=r"category_quality_min\.billing"):
        load_policy(path)
    path.write_text("absolute:\n  category_quality_min:\n    Billing: 0.9\n    billing: 0.5\n")
    with pytest.raises(GateError, match=r"'Billing' and 'billing' are the same category"):
        load_policy(path)  # not the last one silently


def test_relative_gate_is_skipped_without_a_champion():
    decision = decide(GatePolicy(), GOOD, None)
    assert decision.passed and verdicts(decision)["regression.quality"] == "skipped"


def test_contract_failures_fail_the_decision():
    broken = GateResult(
        "contract.signature", 1.0, "no field removed", "fail", "output 'answer' was removed"
    )
    assert not decide(ABSOLUTE_ONLY, GOOD, None, contract=[broken]).passed


def paired(cand_right_champ_wrong: int, champ_right_cand_wrong: int, both: int = 50):
    cand = [1] * cand_right_champ_wrong + [0] * champ_right_cand_wrong + [1] * both
    champ = [0] * cand_right_champ_wrong + [1] * champ_right_cand_wrong + [1] * both
    return PairedScores("m@1", np.array(cand, float), np.array(champ, float))


def test_mcnemar_flags_a_significant_regression():
    decision = decide(GatePolicy(), GOOD, paired(2, 15))
    gate = decision.gates[-1]
    assert gate.verdict == "fail" and "lost 15, won 2" in gate.detail and not decision.passed


def test_mcnemar_does_not_flag_noise():
    assert decide(GatePolicy(), GOOD, paired(6, 9)).passed


def test_mcnemar_hand_computed_p_value():
    # lost 8, won 0: one-sided exact p = 0.5**8
    result = mcnemar_regression(np.array([0] * 8 + [1] * 5), np.array([1] * 8 + [1] * 5), 0.95)
    assert result.statistic == pytest.approx(0.5**8) and result.regression


def test_paired_bootstrap_respects_the_margin():
    scores = paired(0, 6, both=94)  # a 6-point drop
    strict = bootstrap_regression(scores.candidate, scores.champion, 0.95, 0.0, 2000, seed=0)
    lenient = bootstrap_regression(scores.candidate, scores.champion, 0.95, 0.2, 2000, seed=0)
    assert strict.regression and not lenient.regression
    assert strict.difference == pytest.approx(-0.06)


def test_policy_rejects_a_margin_with_mcnemar(tmp_path):
    path = tmp_path / "gates.yaml"
    path.write_text(yaml.safe_dump({"relative": {"method": "mcnemar", "margin": 0.02}}))
    with pytest.raises(GateError, match="margin needs method: paired_bootstrap"):
        load_policy(path)


def test_policy_rejects_unknown_keys_and_bad_values(tmp_path):
    path = tmp_path / "gates.yaml"
    path.write_text("absolute:\n  quality_minimum: 0.5\n")
    with pytest.raises(GateError, match=r"field 'absolute.quality_minimum': Extra inputs"):
        load_policy(path)
    path.write_text("absolute:\n  quality_min: 1.5\n")
    with pytest.raises(GateError, match="quality_min"):
        load_policy(path)


def test_shipped_policy_loads():
    from pathlib import Path

    policy = load_policy(Path(__file__).resolve().parents[2] / "policies" / "gates.yaml")
    assert policy.absolute.pii_leaks_max == 0 and policy.relative.method == "mcnemar"


def test_load_gates_judge_the_load_run_and_fail_without_one():
    policy = GatePolicy(relative=None, load={"latency_ms_p95_max": 800, "min_rate_rps": 20})
    load = {"load.latency_ms_p95": 450.0, "load.error_rate": 0.0, "load.achieved_rate_rps": 20.4}
    assert decide(policy, GOOD, None, load_metrics=load).passed
    slow = decide(policy, GOOD, None, load_metrics={**load, "load.latency_ms_p95": 900.0})
    assert verdicts(slow)["load.latency_p95"] == "fail" and not slow.passed
    too_light = decide(policy, GOOD, None, load_metrics={**load, "load.achieved_rate_rps": 5.0})
    assert verdicts(too_light)["load.rate"] == "fail"
    missing = decide(policy, GOOD, None)
    (gate,) = [g for g in missing.gates if g.name == "load.errors"]
    assert gate.verdict == "fail" and "--load-run" in gate.detail
    assert "load.errors" not in verdicts(decide(ABSOLUTE_ONLY, GOOD, None))  # off by default


def evidence(name="smoke", rows=30.0):
    from raygate.gates.evidence import EvalEvidence

    return EvalEvidence("run-1", "models:/m-1", "m-1", name, "sha256:x", {"rows": rows}, {})


def test_a_gold_set_other_than_the_policys_is_refused():
    from raygate.gates.run import check_gold

    policy = GatePolicy(gold={"name": "dev", "min_rows": 100})
    with pytest.raises(GateError, match="ran on gold set 'smoke', but the policy requires 'dev'"):
        check_gold(policy, evidence("smoke", 515.0))
    with pytest.raises(GateError, match="scored 30 gold rows, fewer than the policy's"):
        check_gold(policy, evidence("dev", 30.0))
    check_gold(policy, evidence("dev", 515.0))  # the right gold set, enough rows
    check_gold(GatePolicy(), evidence("anything", 1.0))  # no gold section: any gold set
