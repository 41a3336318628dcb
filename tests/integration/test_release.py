"""Releases on a real local Ray and MLflow store: the controller ramps, judges on the
in-cluster aggregator and flips `champion` under constant open-loop load with zero failed
requests; a controller killed mid-step resumes without a second flip; a canary replica killed
by its pid is seen by the judge while traffic recovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from raygate.config import load_agent_config
from raygate.loadtest.background import BackgroundLoad
from raygate.loadtest.transport import Target
from raygate.loadtest.workload import load_workload
from raygate.packaging.build import log_agent_model
from tests.integration.conftest import AGENTS, wait_for
from tests.integration.test_serving import TOKEN, Served, deploy

NAME = "release-agent"
# Small steps and large effects: a canary decides within a minute at ~20 requests a second.
POLICY = {
    "analysis_interval_s": 5,
    "max_false_promotion": 0.2,
    "steps": [
        {"weight_percent": 20, "min_duration_s": 10, "min_canary_requests": 20},
        {"weight_percent": 50, "min_duration_s": 10, "min_canary_requests": 60},
    ],
    "metrics": {
        "error_rate": {"max_increase": 1.0, "negligible_rate": 0.05},
        "safety_block_rate": None, "refusal_rate": None, "cost_usd": None,
        "latency_ms": {"quantile": 0.5, "max_increase": 1.0},
    },
    "limits": {"inconclusive_limit": 60},
    "timeout_s": 300,
}  # fmt: skip


@pytest.fixture(scope="module")
def release_served(local_ray, raygate_home, tmp_path_factory) -> Iterator[Served]:
    from raygate.registry.mlflow_registry import MlflowRegistry

    registry = MlflowRegistry()
    for config in ("v1.yaml", "v2.yaml"):
        built = log_agent_model(load_agent_config(AGENTS / config))
        registry.register(NAME, built.model_uri, built.tags)
    registry.set_alias(NAME, "champion", 1)
    registry.set_alias(NAME, "candidate", 1)
    limit = {"requests_per_minute": 60000, "burst": 5000}
    yield from deploy(local_ray, tmp_path_factory, NAME, rate_limit=limit, canary_percent=0)


@pytest.fixture
def policy_file(tmp_path) -> Path:
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(POLICY))
    return path


def background_load(served: Served, rate: float = 20) -> BackgroundLoad:
    prompts = load_workload("dev", None, users=200, seed=1)
    return BackgroundLoad(Target(served.url, token=TOKEN), prompts, rate, max_requests=20_000)


def cli_env(local_ray: str) -> dict[str, str]:
    import ray

    return {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
            "RAY_DASHBOARD_ADDRESS": local_ray}  # fmt: skip


def test_promote_and_roll_back_under_load_with_zero_failures_and_a_controller_killed_midway(
    release_served, local_ray, policy_file, tmp_path
):
    from raygate.canary.store import MlflowReleaseStore
    from raygate.registry.mlflow_registry import MlflowRegistry

    registry, store = MlflowRegistry(), MlflowReleaseStore()
    env = cli_env(local_ray)
    start = [sys.executable, "-m", "raygate.cli.main", "canary", "start", NAME, "--version", "2",
             "--policy", str(policy_file)]  # fmt: skip
    load = background_load(release_served).start()
    try:
        log_path = tmp_path / "controller-1.log"
        first = subprocess.Popen(start, env=env, stdout=log_path.open("w"),
                                 stderr=subprocess.STDOUT)  # fmt: skip

        def second_look():
            assert first.poll() is None, log_path.read_text()[-3000:]
            return (s := store.active(NAME)) and s.looks >= 2 and s

        try:
            state = wait_for(second_look, 180, "the controller's second look")
        except AssertionError:
            first.kill()
            raise AssertionError(log_path.read_text()[-3000:]) from None
        first.send_signal(signal.SIGKILL)  # mid-step: no chance to clean up
        first.wait(30)
        assert store.load(state.release_id).phase == "running"
        resumed = subprocess.run([*start, "--json"], env=env, capture_output=True, text=True,
                                 timeout=300)  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        final = store.load(state.release_id)
        assert final.phase == "promoted" and final.looks > state.looks
        assert registry.aliases(NAME)["champion"] == 2
        flips = [e for e in registry.alias_history(NAME, "champion") if e.version == 2]
        assert len(flips) == 1  # flipped exactly once across the two controllers
        shown = subprocess.run([sys.executable, "-m", "raygate.cli.main", "canary", "status",
                                NAME, "--json"], env=env, capture_output=True, text=True,
                               timeout=120)  # fmt: skip
        status = json.loads(shown.stdout)
        assert status["phase"] == "promoted" and status["last_look"]["decision"] == "promote"
        assert json.loads(resumed.stdout)["report"].endswith(".html")
        answered = load.by_variant.copy()
        wait_for(lambda: load.by_variant["champion"] > answered["champion"] + 40, 60,
                 "traffic on the new champion")  # fmt: skip
        undo = subprocess.run([sys.executable, "-m", "raygate.cli.main", "rollback", NAME],
                              env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
        assert undo.returncode == 0, undo.stderr[-3000:]
        assert registry.aliases(NAME)["champion"] == 1
        answered = load.by_variant.copy()
        wait_for(lambda: load.by_variant["champion"] > answered["champion"] + 40, 60,
                 "traffic after the rollback")  # fmt: skip
    finally:
        load.stop()
    assert load.sent > 300 and load.by_variant["canary"] > 50
    assert load.outcomes["ok"] == load.sent, load.failures[:3]
    status = release_served.control.status()
    assert status["canary_percent"] == 0


def test_a_canary_replica_killed_by_its_pid_is_counted_by_the_judge_and_traffic_recovers(
    release_served, local_ray, policy_file
):
    import psutil

    from raygate import release_runtime as rt
    from raygate.canary.policy import load_rollout_policy
    from raygate.canary.release_state import FINAL_PHASES

    parts = rt.runtime(local_ray)
    registry = parts.registry
    built = log_agent_model(load_agent_config(AGENTS / "v2.yaml"))
    candidate = registry.register(NAME, built.model_uri, built.tags).version
    policy = load_rollout_policy(policy_file)
    controller = rt.controller(parts, policy, NAME)
    state = controller.begin(NAME, candidate)
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(state=controller.run(state)))
    load = background_load(release_served, rate=25).start()
    try:
        thread.start()
        wait_for(lambda: parts.store.load(state.release_id).looks >= 2, 120, "two looks")
        details = release_served.control.details()
        (app,) = details["applications"].values()
        (replica,) = app["deployments"]["canary"]["replicas"]
        psutil.Process(replica["pid"]).kill()
        before = load.by_variant["canary"]
        wait_for(lambda: load.by_variant["canary"] > before + 30, 120, "the canary answering again")
        thread.join(300)
    finally:
        load.stop()
    final = outcome["state"]
    assert final.phase in FINAL_PHASES - {"aborted"}
    looks = parts.store.looks(state.release_id)
    canary_failures = [r for r in load.failures if r.variant == "canary"]
    judged_errors = max(
        (m["evidence"]["canary"] or 0) * m["evidence"]["canary_n"]
        for look in looks for m in look.get("metrics", []) if m["metric"] == "error_rate"
    )  # fmt: skip
    if canary_failures:  # what the clients saw fail, the judge counted
        assert judged_errors >= 1
    # Serve usually masks the kill (requests wait for the new replica): then the judge sees a
    # slower canary, not errors. Either way the policy decides, and the alias follows it.
    champion = registry.aliases(NAME)["champion"]
    if final.phase == "rolled_back":
        assert "regression" in final.reason and champion != candidate
    else:
        assert final.phase == "promoted" and champion == candidate


def test_raygate_release_takes_a_logged_model_from_eval_to_a_decided_canary(
    release_served, local_ray, policy_file, tiny_gold, tmp_path
):
    from raygate.canary.store import MlflowReleaseStore
    from raygate.registry.mlflow_registry import MlflowRegistry

    gates = tmp_path / "gates.yaml"  # absolute gates only: the champion has no eval on tiny_gold
    gates.write_text("absolute: {quality_min: 0.3, error_rate_max: 0.01}\nrelative: null\n")
    built = log_agent_model(load_agent_config(AGENTS / "v2.yaml"))
    command = [sys.executable, "-m", "raygate.cli.main", "release", "--name", NAME,
               "--model-uri", built.model_uri, "--gold", str(tiny_gold), "--gates", str(gates),
               "--rollout", str(policy_file), "--json"]  # fmt: skip
    load = background_load(release_served).start()
    try:
        done = subprocess.run(command, env=cli_env(local_ray), capture_output=True, text=True,
                              timeout=600)  # fmt: skip
    finally:
        load.stop()
    outcome = json.loads(done.stdout)
    assert done.returncode == (0 if outcome["outcome"] == "promoted" else 1), done.stderr[-2000:]
    assert outcome["outcome"] in ("promoted", "rolled_back") and outcome["gates"]["passed"]
    version = MlflowRegistry().get_version(NAME, outcome["version"])
    assert version.tags["raygate.eval_run_id"] == outcome["eval_run_id"]
    assert version.tags["raygate.release.outcome"] == outcome["outcome"]
    state = MlflowReleaseStore().load(outcome["release_id"])
    assert state.phase == outcome["outcome"] and Path(outcome["report"]).is_file()


def test_a_release_of_a_model_the_app_does_not_serve_moves_nothing(
    release_served, local_ray, built_v1
):
    """promote, rollback and canary start of a model that raygate's app at --address does not
    serve: one error naming both models, and neither its aliases nor the app change."""
    from raygate.registry.mlflow_registry import MlflowRegistry
    from tests.integration.test_cli import assert_one_line_error, run

    registry, other = MlflowRegistry(), "not-served-agent"
    version = registry.register(other, built_v1.model_uri, built_v1.tags)
    registry.set_alias(other, "candidate", version.version)
    before = release_served.control.status()
    for command in (["promote", other], ["rollback", other], ["canary", "start", other]):
        refused = run(*command, "--address", local_ray)
        assert_one_line_error(refused, f"serves {NAME}, not {other}: {other}'s aliases")
    assert registry.aliases(other) == {"candidate": version.version}
    after = release_served.control.status()
    assert after["canary_percent"] == before["canary_percent"]
    assert {n: d["user_config"] for n, d in after["deployments"].items()} == {
        n: d["user_config"] for n, d in before["deployments"].items()
    }


def test_a_version_serving_cannot_load_is_neither_canaried_nor_promoted(
    release_served, local_ray, policy_file, tmp_path
):
    """A version whose loading code raises in the replicas: `canary start` ends aborted before
    any traffic moves (the canary would have judged the version it kept serving), and
    `promote` leaves `champion` on the version that serves, saying why."""
    from raygate.canary.store import MlflowReleaseStore
    from raygate.registry.mlflow_registry import MlflowRegistry
    from tests.integration.conftest import log_code_model
    from tests.integration.test_cli import run
    from tests.integration.test_user_pyfunc import FAILS_TO_LOAD

    registry = MlflowRegistry()
    broken = registry.register(NAME, log_code_model(tmp_path, FAILS_TO_LOAD), {}).version
    aliases = registry.aliases(NAME)
    said = "its loading code raised RuntimeError: the weights are gone"
    started = run("canary", "start", NAME, "--version", str(broken), "--address", local_ray,
                  "--policy", str(policy_file))  # fmt: skip
    assert started.exit_code == 2 and "Traceback" not in started.stderr
    last = started.stderr.strip().splitlines()[-1]
    assert "aborted: the canary could not be started: the canary deployment could not" in last
    assert said in last
    assert MlflowReleaseStore().latest(NAME).phase == "aborted"
    assert release_served.control.status()["canary_percent"] == 0
    promoted = run("promote", NAME, "--version", str(broken), "--address", local_ray)
    champion = aliases["champion"]
    assert promoted.exit_code == 2 and "Traceback" not in promoted.stderr
    error = promoted.stderr.strip().splitlines()[-1]  # (the session's Ray logs come first)
    assert error.startswith(f"error: v{broken} is not champion: the champion deployment could")
    assert said in error and error.endswith(f"champion stays v{champion}"), error
    assert f"champion → v{champion} again: v{broken} cannot serve" in promoted.stdout
    assert registry.aliases(NAME)["champion"] == champion
    answer = release_served.predict({"query": "hi", "user_id": "u-broken"}).json()
    assert answer["model_id"].endswith(f"@{champion}"), answer
    # the alias moved by hand: `serve refresh` says the replicas kept what they had, and so
    # does `serve status`
    registry.set_alias(NAME, "champion", broken)
    try:
        refreshed = run("serve", "refresh", "champion", "--address", local_ray)
        assert refreshed.exit_code == 2 and "Traceback" not in refreshed.stderr
        error = refreshed.stderr.strip().splitlines()[-1]
        assert error.startswith("error: the champion deployment could not load") and said in error
        status = json.loads(run("serve", "status", "--address", local_ray, "--json").stdout)
        kept = status["deployments"]["champion"]["replica_versions"].values()
        assert all(said in e["load_error"] and e["model_id"].endswith(f"@{champion}") for e in kept)
    finally:
        registry.set_alias(NAME, "champion", champion)
        control = release_served.control
        control.wait_applied(control.refresh("champion"), 120)
