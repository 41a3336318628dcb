"""Rollout policy and step logic, one test per rule; replay and plan through the CLI."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from raygate.canary import steps
from raygate.canary.judge import JudgeVerdict, MetricVerdict, Verdict
from raygate.canary.policy import RolloutPolicy, load_rollout_policy
from raygate.canary.recordings import read_observations
from raygate.canary.replay import replay
from raygate.cli.main import app
from raygate.errors import ConfigError

runner = CliRunner()
POLICY = RolloutPolicy(
    analysis_interval_s=10,
    steps=[
        {"weight_percent": 1, "min_duration_s": 60, "min_canary_requests": 10},
        {"weight_percent": 50, "min_duration_s": 60, "min_canary_requests": 100},
    ],
    limits={"failure_limit": 0, "inconclusive_limit": 2, "consecutive_error_limit": 1},
    timeout_s=1000,
)


def verdict(kind: Verdict, canary_requests: int = 1000) -> JudgeVerdict:
    metric = MetricVerdict("error_rate", kind, 0.01, 0.01, 1.0, 0.5, 2.0, 0.5, 10, 10, "")
    return JudgeVerdict(kind, (metric,), canary_requests, 10 * canary_requests)


def look(state, kind, now, canary_requests=1000, policy=POLICY):
    return steps.next_decision(policy, state, verdict(kind, canary_requests), now)


def test_a_fail_rolls_back_at_any_look_even_before_the_step_minimums():
    _, decision = look(steps.start(0), Verdict.FAIL, now=1, canary_requests=1)
    assert decision.action is steps.Action.ROLLBACK and "error_rate" in decision.reason


def test_failure_limit_tolerates_that_many_fails():
    tolerant = POLICY.model_copy(
        update={"limits": POLICY.limits.model_copy(update={"failure_limit": 1})}
    )
    state, first = look(steps.start(0), Verdict.FAIL, 1, policy=tolerant)
    _, second = look(state, Verdict.FAIL, 2, policy=tolerant)
    assert first.action is steps.Action.WAIT and second.action is steps.Action.ROLLBACK


def test_a_step_waits_for_its_minimum_time_and_requests():
    state = steps.start(0)
    for now, requests in ((30, 1000), (120, 5)):
        _, decision = look(state, Verdict.PASS, now, requests)
        assert decision.action is steps.Action.WAIT


def test_a_step_without_fail_advances_when_its_minimums_are_met():
    state, decision = look(steps.start(0), Verdict.INCONCLUSIVE, 60, 50)
    assert decision.action is steps.Action.SET_WEIGHT and state.step == 1
    assert state.step_start_canary_requests == 50 and state.step_started_at == 60


def test_inconclusive_never_promotes():
    state, _ = look(steps.start(0), Verdict.PASS, 60, 50)  # now at the last step
    actions = []
    for now in range(120, 400, 10):
        state, decision = look(state, Verdict.INCONCLUSIVE, now, 5000)
        actions.append(decision.action)
        if decision.action in steps.FINAL_ACTIONS:
            break
    assert steps.Action.PROMOTE not in actions
    assert actions[-1] is steps.Action.HALT  # after inconclusive_limit extensions
    assert actions.count(steps.Action.WAIT) == POLICY.limits.inconclusive_limit


def test_every_metric_passing_after_the_last_step_promotes():
    state, _ = look(steps.start(0), Verdict.PASS, 60, 50)
    _, decision = look(state, Verdict.PASS, 120, 500)
    assert decision.action is steps.Action.PROMOTE and decision.next_look_at is None


def test_manual_approval_waits_for_a_person():
    gated = POLICY.model_copy(update={"manual_approval": True})
    state, _ = look(steps.start(0), Verdict.PASS, 60, 50, policy=gated)
    state, decision = look(state, Verdict.PASS, 120, 500, policy=gated)
    assert decision.action is steps.Action.AWAIT_APPROVAL
    _, approved = look(
        steps.RolloutState(**{**state.__dict__, "approved": True}),
        Verdict.PASS,
        130,
        600,
        policy=gated,
    )
    assert approved.action is steps.Action.PROMOTE


def test_a_measurement_error_never_decides():
    state = steps.start(0)
    state, decision = steps.next_decision(POLICY, state, steps.MeasurementError("timeout"), 70)
    assert decision.action is steps.Action.WAIT and state.step == 0 and state.failures == 0
    assert "measurement error" in decision.reason


def test_too_many_measurement_errors_in_a_row_roll_back():
    state = steps.start(0)
    for now in (10, 20):
        state, decision = steps.next_decision(POLICY, state, steps.MeasurementError("down"), now)
    assert decision.action is steps.Action.ROLLBACK and "measurement errors" in decision.reason


def test_a_good_look_resets_the_measurement_error_count():
    state, _ = steps.next_decision(POLICY, steps.start(0), steps.MeasurementError("x"), 10)
    state, _ = look(state, Verdict.INCONCLUSIVE, 20, 1)
    state, decision = steps.next_decision(POLICY, state, steps.MeasurementError("x"), 30)
    assert decision.action is steps.Action.WAIT


def test_a_metric_neither_variant_reports_halts_at_once_saying_how_to_fix_it():
    cost = MetricVerdict("cost_usd", Verdict.INCONCLUSIVE, None, None, None, 0.0, math.inf,
                         0.2, 0, 0, "")  # fmt: skip
    unmeasured = JudgeVerdict(Verdict.INCONCLUSIVE, (cost,), 60, 600)
    _, decision = steps.next_decision(POLICY, steps.start(0), unmeasured, now=1)
    assert decision.action is steps.Action.HALT and "cost_usd" in decision.reason
    assert "metrics.NAME: null" in decision.reason
    early = JudgeVerdict(Verdict.INCONCLUSIVE, (cost,), 10, 100)  # too few requests to say
    assert steps.next_decision(POLICY, steps.start(0), early, now=1)[1].action is not (
        steps.Action.HALT
    )
    # nor does the canary get more traffic until one reports it or the halt comes
    state, decision = steps.next_decision(POLICY, steps.start(0), early, now=60)
    assert decision.action is steps.Action.WAIT and state.step == 0
    assert "no value of cost_usd from either variant yet; the canary keeps 1 %" in decision.reason
    reported = JudgeVerdict(Verdict.INCONCLUSIVE, (replace(cost, canary_n=3),), 10, 100)
    assert steps.next_decision(POLICY, steps.start(0), reported, now=60)[1].action is (
        steps.Action.SET_WEIGHT
    )


def test_the_timeout_halts_without_a_decision_and_says_the_traffic_it_saw():
    _, decision = look(steps.start(0), Verdict.INCONCLUSIVE, POLICY.timeout_s, 1)
    assert decision.action is steps.Action.HALT and "timed out" in decision.reason
    assert "step 1 of 2 (1 canary and 10 champion requests)" in decision.reason


def test_a_release_nobody_sends_traffic_to_says_so_while_waiting_and_at_its_timeout():
    state = steps.start(0)
    _, waiting = look(state, Verdict.INCONCLUSIVE, 30, canary_requests=0)
    assert waiting.action is steps.Action.WAIT
    assert waiting.reason == "step 1: no requests have reached either variant"
    _, halted = look(state, Verdict.INCONCLUSIVE, POLICY.timeout_s, canary_requests=0)
    assert halted.action is steps.Action.HALT
    assert "no requests have reached either variant" in halted.reason
    assert "raygate loadtest" in halted.reason


def test_collecting_data_says_how_far_the_step_is():
    _, decision = look(steps.start(0), Verdict.PASS, 30, canary_requests=4)
    assert decision.reason == "step 1: collecting data (4 of 10 canary requests, 30 of 60 s)"


# Policy file


def test_the_shipped_policy_loads():
    policy = load_rollout_policy("policies/rollout.yaml")
    assert [m.name for m in policy.judged_metrics()] == [
        "error_rate", "safety_block_rate", "refusal_rate", "latency_ms", "cost_usd",
    ]  # fmt: skip
    assert sum(m.alpha for m in policy.judged_metrics()) == pytest.approx(0.05)


def test_a_step_weight_may_be_written_with_a_percent_sign(tmp_path):
    path = tmp_path / "rollout.yaml"
    path.write_text("steps:\n  - {weight_percent: 5%, min_duration_s: 1}\n"
                    "  - {weight_percent: ' 25 %', min_duration_s: 1}\n")  # fmt: skip
    assert [s.weight_percent for s in load_rollout_policy(path).steps] == [5.0, 25.0]


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("steps:\n  - {weight_percent: 5, min_duration_s: 1}\ntimeout_s: -1\n", ":3:", "timeout"),
        ("steps:\n  - weight_percent: 5\n    min_duration_s: 10\n    typo: 1\n", ":4:", "typo"),
        ("steps:\n  - {weight_percent: 5, min_duration_s: 1}\nmetrics:\n  latency_ms:\n"
         "    quantile: 1.5\n    max_increase: 0.2\n", ":5:", "quantile"),
        ("steps:\n  - {weight_percent: 5, min_duration_s: 1}\n  - {weight_percent: 2, "
         "min_duration_s: 1}\n", "weights must increase", "steps"),
        ("steps: [\n", ":2:", "not valid YAML"),
        ("timeout_s: 5\n", ":1:", "steps"),
        ("steps:\n  - {weight_percent: 5 percent, min_duration_s: 1}\n", ":2:", "weight_percent"),
        ("steps:\n  - {weight_percent: 150%, min_duration_s: 1}\n", ":2:", "weight_percent"),
    ],
)  # fmt: skip
def test_policy_errors_name_file_line_and_field(tmp_path, text, where, says):
    path = tmp_path / "rollout.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_rollout_policy(path)
    assert where in str(caught.value) and says in str(caught.value)
    assert str(path) in str(caught.value)


# Replay


def record(path, canary_error_rate: float, requests: int = 6000, seed: int = 0, rps: float = 20):
    """A recording: canary at 20 %, errors at 1 % on the champion."""
    rng = np.random.default_rng(seed)
    with path.open("w") as out:
        for i in range(requests):
            variant = "canary" if rng.random() < 0.2 else "champion"
            failed = rng.random() < (canary_error_rate if variant == "canary" else 0.01)
            line = {
                "ts": 1_700_000_000 + i / rps, "variant": variant,
                "status": 502 if failed else 200,
                "finish_reason": "error" if failed else "answer",
                "latency_ms": float(rng.lognormal(5, 0.5)), "tokens_in": 100, "tokens_out": 20,
                "cost_usd": float(rng.lognormal(-7, 0.3)), "safety_flags": [],
                "trace_id": "ab" * 16,  # records carry more fields; replay ignores them
            }  # fmt: skip
            out.write(json.dumps(line) + "\n")
    return path


def quick_policy(tmp_path):
    path = tmp_path / "rollout.yaml"
    path.write_text(
        "analysis_interval_s: 10\nsteps:\n  - {weight_percent: 20, min_duration_s: 30}\n"
        "metrics:\n  error_rate: {max_increase: 0.5}\n  safety_block_rate: null\n"
        "  refusal_rate: null\n  latency_ms: {quantile: 0.95, max_increase: 0.2}\n"
        "  cost_usd: null\nlimits:\n  inconclusive_limit: 1000\n"
    )
    return path


def test_replay_rolls_back_a_canary_that_fails_more(tmp_path):
    observations = record(tmp_path / "obs.jsonl", canary_error_rate=0.08)
    result = runner.invoke(
        app,
        ["canary", "replay", str(observations), "--policy", str(quick_policy(tmp_path)), "--json"],
    )
    assert result.exit_code == 1, result.output
    document = json.loads(result.output)
    assert document["decision"] == "rollback"
    assert 0 < document["decided_at_request"] < document["canary_requests"] + 1
    failed = [r for r in document["reasons"] if r["verdict"] == "fail"]
    assert [r["metric"] for r in failed] == ["error_rate"]
    assert failed[0]["evidence"]["ratio_lower"] >= 1


def test_replay_promotes_a_canary_like_its_champion(tmp_path):
    observations = record(tmp_path / "obs.jsonl", canary_error_rate=0.01, requests=40000)
    result = runner.invoke(
        app,
        ["canary", "replay", str(observations), "--policy", str(quick_policy(tmp_path)), "--json"],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["decision"] == "promote"
    assert {r["verdict"] for r in document["reasons"]} == {"pass"}


def test_replay_stops_reading_once_decided(tmp_path):
    policy = load_rollout_policy(quick_policy(tmp_path))
    lines = read_observations(record(tmp_path / "obs.jsonl", canary_error_rate=0.5))
    result = replay(lines, policy)
    assert result.decision == "rollback" and result.observations < 6000
    assert next(lines, None) is not None  # the rest of the file was never read


def test_replay_without_a_decision_is_inconclusive_and_exits_0(tmp_path):
    observations = record(tmp_path / "obs.jsonl", canary_error_rate=0.01, requests=300)
    result = runner.invoke(
        app, ["canary", "replay", str(observations), "--policy", str(quick_policy(tmp_path))]
    )
    assert result.exit_code == 0, result.output
    assert "INCONCLUSIVE" in result.output


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"ts": 5, "variant": "blue", "status": 200, "finish_reason": "answer"}', "variant"),
        ('{"ts": 5, "variant": "canary", "finish_reason": "answer"}', "status"),
        (
            '{"ts": 0, "variant": "canary", "status": 200, "finish_reason": "answer"}',
            "100 s earlier",
        ),
    ],
)
def test_a_malformed_line_names_its_line(tmp_path, line, says):
    path = tmp_path / "obs.jsonl"
    good = '{"ts": 100, "variant": "champion", "status": 200, "finish_reason": "answer"}'
    path.write_text(f"{good}\n\n{line}\n")
    result = runner.invoke(
        app, ["canary", "replay", str(path), "--policy", "policies/rollout.yaml"]
    )
    assert result.exit_code == 2
    assert f"{path}:3:" in result.output and says in result.output
    assert "Traceback" not in result.output


def test_records_of_several_writers_files_and_nodes_are_read_in_time_order(tmp_path):
    """Router processes append to one hourly file (lines a little out of order), a canary of
    hours spans files, and each node keeps its own folder: all of it is one recording."""

    def line(ts: float, variant: str = "champion") -> str:
        return json.dumps({"ts": ts, "variant": variant, "status": 200, "finish_reason": "answer"})

    node_a, node_b = tmp_path / "a" / "records", tmp_path / "b" / "records"
    node_a.mkdir(parents=True)
    node_b.mkdir(parents=True)
    (node_a / "requests-20261207-10.jsonl").write_text(
        "\n".join(line(t) for t in (3600.0, 3600.5, 3600.2, 3620.0, 3601.0)) + "\n"
    )  # two processes' appends interleaved: 3600.2 and 3601.0 came late
    (node_a / "requests-20261207-11.jsonl").write_text(line(7200.0, "canary") + "\n")
    (node_a / "eval-run-20261207-10.jsonl").write_text('{"ts": 1, "variant": "eval"}\n')
    (node_b / "requests-20261207-10.jsonl").write_text(line(3600.1, "canary") + "\n")
    merged = [o.ts for o in read_observations(node_a, node_b)]
    assert merged == [3600.0, 3600.1, 3600.2, 3600.5, 3601.0, 3620.0, 7200.0]  # no eval rows
    replayed = runner.invoke(app, ["canary", "replay", str(node_a), str(node_b), "--json"])
    assert replayed.exit_code == 0, replayed.output
    assert json.loads(replayed.output)["observations"] == 7
    with pytest.raises(ConfigError, match="holds no serving records"):
        list(read_observations(tmp_path))


def test_replay_of_a_missing_file_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["canary", "replay", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 2 and "does not exist" in result.output


# Plan


def test_plan_reports_requests_and_minutes_per_metric():
    result = runner.invoke(
        app, ["canary", "plan", "--rps", "40", "--share", "5", "--simulations", "20", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["canary_rps"] == pytest.approx(2.0)
    promote = document["to_promote_if_no_difference"]
    assert promote["median_requests"] > 0
    assert promote["median_minutes"] == pytest.approx(promote["median_requests"] / 2.0 / 60)
    assert {m["metric"] for m in document["metrics"]} >= {"error_rate", "latency_ms"}
    # the shipped first step (1 % for 120 s at 40 req/s) is too short to fail anything
    assert any(w.startswith("step 1") for w in document["warnings"])


def test_plan_warns_when_the_last_step_cannot_pass(tmp_path):
    path = tmp_path / "short.yaml"
    path.write_text(
        "steps:\n  - {weight_percent: 5, min_duration_s: 60}\nlimits:\n  inconclusive_limit: 0\n"
    )
    result = runner.invoke(
        app,
        ["canary", "plan", "--rps", "10", "--policy", str(path), "--simulations", "10", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["share_percent"] == 5  # no --share: the last step's weight
    assert any("inconclusive" in w for w in document["warnings"])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--rps", "0", "--share", "5"], "rps"),
        (["--rps", "10", "--share", "150"], "outside 0-100 %"),
        (["--rps", "10", "--share", "5", "--latency-ms-p95", "100"], "p95 must be above"),
    ],
)
def test_plan_refuses_bad_input(args, says):
    result = runner.invoke(app, ["canary", "plan", *args])
    assert result.exit_code == 2 and says in result.output
