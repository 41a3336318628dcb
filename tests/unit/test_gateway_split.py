"""The gateway split: weights, which rules move, when the Gateway has applied them, and the
Kubernetes API's answers as the official client sees them from a stand-in API server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from raygate.errors import ConfigError, ServeError
from raygate.serving.gateway import (
    GatewaySplitControl,
    acceptance,
    load_split,
    reweighted,
    weights,
)
from tests.kube_stand_in import KubeApi, accept, serving

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_SPLIT = ROOT / "deploy" / "k8s" / "split.gateway.yaml"
CHAMPION, CANARY = "raygate-champion-serve-svc", "raygate-canary-serve-svc"


def example_route() -> dict:
    """deploy/k8s/gateway-split.yaml plus a second rule that must not move."""
    route = yaml.safe_load((ROOT / "deploy" / "k8s" / "gateway-split.yaml").read_text())
    other = {"matches": [{"path": {"type": "PathPrefix", "value": "/docs"}}],
             "backendRefs": [{"name": "docs", "port": 80, "weight": 1}]}  # fmt: skip
    route["spec"]["rules"].append(other)
    return route


def rule_weights(route: dict) -> dict[str, int]:
    return {ref["name"]: ref["weight"] for ref in route["spec"]["rules"][0]["backendRefs"]}


def test_weights_sum_to_the_total_in_hundredths_of_a_percent():
    assert weights(0) == (10_000, 0) and weights(100) == (0, 10_000)
    assert weights(2.5) == (9_750, 250) and weights(0.01) == (9_999, 1)
    with pytest.raises(ConfigError, match="between 0 and 100"):
        weights(150)


def test_only_rules_sending_to_both_backends_are_reweighted():
    split = load_split(EXAMPLE_SPLIT)
    route = example_route()
    moved = reweighted(route, split, 5)
    assert rule_weights(moved) == {CHAMPION: 9_500, CANARY: 500}
    assert moved["spec"]["rules"][1] == route["spec"]["rules"][1]
    assert rule_weights(route) == {CHAMPION: 10_000, CANARY: 0}  # the input is not changed
    route["spec"]["rules"][0]["backendRefs"].pop()
    with pytest.raises(ConfigError, match=rf"no rule sending to both.*backends: docs, {CHAMPION}"):
        reweighted(route, split, 5)


def test_a_route_is_applied_once_every_gateway_accepted_its_generation():
    route = {"metadata": {"generation": 3}, "status": {}}
    assert acceptance(route) == (False, None)  # no Gateway controller has reported
    route["metadata"]["generation"] = 2
    route["status"] = accept(route)
    route["metadata"]["generation"] = 3
    assert acceptance(route) == (False, None)  # accepted, but an older generation
    route["status"] = accept(route)
    assert acceptance(route) == (True, None)
    condition = route["status"]["parents"][0]["conditions"][1]
    condition.update(status="False", reason="BackendNotFound", message="service not found")
    applied, refusal = acceptance(route)
    assert not applied and "ResolvedRefs=False (BackendNotFound): service not found" in refusal


def test_split_files_are_validated_with_the_field_named(tmp_path):
    split = load_split(EXAMPLE_SPLIT)
    assert split.route.name == "raygate-split" and split.canary.backend == CANARY
    bad = tmp_path / "split.yaml"
    bad.write_text("kind: gateway\nroute: {name: r}\nchampion: {backend: a, dashboard: x}\n")
    with pytest.raises(ConfigError, match=r"split\.yaml.*canary"):
        load_split(bad)
    bad.write_text(EXAMPLE_SPLIT.read_text().replace(CANARY, CHAMPION))
    with pytest.raises(ConfigError, match="same backend"):
        load_split(bad)


@pytest.fixture
def api(tmp_path, monkeypatch):
    """A stand-in API server holding the example route, and KUBECONFIG pointing at it."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    stand_in = KubeApi()
    stand_in.add(yaml.safe_load((ROOT / "deploy" / "k8s" / "gateway-split.yaml").read_text()))
    with serving(stand_in, tmp_path) as kubeconfig:
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        yield stand_in


def test_set_weight_writes_the_route_and_waits_for_the_gateway(api):
    reads = []

    def slow_gateway(route):  # accepts a new generation only on the third read after it
        reads.append(route["metadata"]["generation"])
        return accept(route) if len(reads) >= 3 else None

    control = GatewaySplitControl(load_split(EXAMPLE_SPLIT), timeout_s=30)
    control.set_weight(5)
    route = api.get("default", "raygate-split")
    assert rule_weights(route) == {CHAMPION: 9_500, CANARY: 500}
    assert route["metadata"]["generation"] == 2 and acceptance(route) == (True, None)
    puts = api.puts
    control.set_weight(5)  # a repeat writes nothing
    assert api.puts == puts and api.get("default", "raygate-split")["metadata"]["generation"] == 2
    api.gateway = slow_gateway
    api.routes[("default", "raygate-split")]["status"] = {}
    control.set_weight(0)  # returns only once the status says generation 3 is accepted
    assert acceptance(api.get("default", "raygate-split")) == (True, None)
    assert rule_weights(api.get("default", "raygate-split")) == {CHAMPION: 10_000, CANARY: 0}


def test_a_concurrent_writer_is_retried_on_the_new_version(api):
    control = GatewaySplitControl(load_split(EXAMPLE_SPLIT), timeout_s=30)
    api.before_put = api.bump  # someone writes between the controller's read and write
    control.set_weight(1)
    assert api.conflicts == 1 and api.puts == 1
    assert rule_weights(api.get("default", "raygate-split")) == {CHAMPION: 9_900, CANARY: 100}

    def always(route):
        api.bump(route)
        api.before_put = always

    api.before_put = always
    with pytest.raises(ServeError, match="kept changing under the controller"):
        control.set_weight(2)
    assert api.conflicts == 6 and api.puts == 1


def test_api_refusals_and_gateway_refusals_are_one_clear_error(api, tmp_path):
    split = load_split(EXAMPLE_SPLIT)
    api.gateway = lambda route: None  # no Gateway controller
    with pytest.raises(ServeError, match=r"accepted generation 2 .*kubectl describe"):
        GatewaySplitControl(split, timeout_s=1).set_weight(5)

    def refuse(route):
        status = accept(route)
        status["parents"][0]["conditions"][0].update(status="False", reason="NotAllowedByListeners")
        return status

    api.gateway = refuse
    with pytest.raises(ServeError, match="was refused: Gateway inference-gateway set Accepted"):
        GatewaySplitControl(split, timeout_s=5).set_weight(3)
    api.allowed = False
    with pytest.raises(ServeError, match=r"403 Forbidden.*get and update on httproutes.*rbac"):
        GatewaySplitControl(split, timeout_s=5).set_weight(3)
    api.allowed = True
    missing = split.model_copy(update={"route": split.route.model_copy(update={"name": "nope"})})
    with pytest.raises(ServeError, match="HTTPRoute default/nope not found"):
        GatewaySplitControl(missing, timeout_s=5).set_weight(3)


def test_without_credentials_the_error_says_where_they_come_from(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"no Kubernetes credentials.*KUBECONFIG"):
        GatewaySplitControl(load_split(EXAMPLE_SPLIT))


def test_serve_weight_with_a_split_moves_the_route(api):
    import json

    from typer.testing import CliRunner

    from raygate.cli.main import app

    runner, split = CliRunner(), ["--split", str(EXAMPLE_SPLIT)]
    done = runner.invoke(app, ["serve", "weight", "10", *split, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {
        "route": "default/raygate-split", "canary_percent": 10.0, "champion_weight": 9_000,
        "canary_weight": 1_000, "generation": 2, "accepted": True,
    }  # fmt: skip
    assert rule_weights(api.get("default", "raygate-split")) == {CHAMPION: 9_000, CANARY: 1_000}
    api.gateway = lambda route: None  # no Gateway controller: --wait 0 does not wait for one
    done = runner.invoke(app, ["serve", "weight", "0", *split, "--wait", "0"])
    assert done.exit_code == 0, done.output
    assert "champion 10000, canary 0 (0 %), not yet accepted" in done.stdout
    assert rule_weights(api.get("default", "raygate-split")) == {CHAMPION: 10_000, CANARY: 0}
