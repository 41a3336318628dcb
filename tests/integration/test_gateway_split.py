"""A release on a gateway split: the controller's actions write an HTTPRoute's weights through
the official Kubernetes client (to a stand-in API server: no kube-apiserver runs here) and
refresh each variant through a real Serve app's dashboard, with real MLflow aliases; `raygate
promote|rollback --split` do the same from the command line; an app serving the canary alone
answers every request as the canary (the canary cluster's side of the split)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from raygate.canary.actions import Actions
from raygate.config import load_agent_config
from raygate.packaging.build import log_agent_model
from raygate.serving.gateway import GatewaySplitControl, load_split
from raygate.serving.settings import restrict_to_variants
from tests.integration.conftest import AGENTS
from tests.integration.test_serving import Served, deploy
from tests.kube_stand_in import KubeApi, serving

ROOT = Path(__file__).resolve().parents[2]
NAME = "gateway-agent"
QUERY = "What is the return window for Kitchen products?"
ROUTE = ("default", "raygate-split")


@dataclass
class Split:
    served: Served
    api: KubeApi
    file: Path
    versions: dict[str, int]

    def weights(self) -> dict[str, int]:
        (rule,) = self.api.get(*ROUTE)["spec"]["rules"]
        return {ref["name"].split("-")[1]: ref["weight"] for ref in rule["backendRefs"]}

    def answered_by(self, user: str) -> tuple[str, str]:
        body = self.served.predict({"query": QUERY, "user_id": user}).json()
        return body["variant"], body["model_id"]


@pytest.fixture(scope="module")
def split(local_ray, raygate_home, tmp_path_factory) -> Iterator[Split]:
    """v1 champion and candidate, v2 registered; the app with both variants and no router
    weight (the route holds it), both 'clusters' this one; the example route in a stand-in
    API server that KUBECONFIG points at."""
    from raygate.registry.mlflow_registry import MlflowRegistry

    registry = MlflowRegistry()
    versions = {}
    for config in ("v1", "v2"):
        built = log_agent_model(load_agent_config(AGENTS / f"{config}.yaml"))
        versions[config] = registry.register(NAME, built.model_uri, built.tags).version
    for alias in ("champion", "candidate"):
        registry.set_alias(NAME, alias, versions["v1"])
    folder = tmp_path_factory.mktemp("gateway")
    text = (ROOT / "deploy" / "k8s" / "split.gateway.yaml").read_text()
    for variant in ("champion", "canary"):  # both variants' dashboards: this Ray
        text = text.replace(f"http://raygate-{variant}-head-svc.default.svc:8265", local_ray)
    file = folder / "split.yaml"
    file.write_text(text)
    api = KubeApi()
    api.add(yaml.safe_load((ROOT / "deploy" / "k8s" / "gateway-split.yaml").read_text()))
    before = os.environ.get("KUBECONFIG")
    with serving(api, folder) as kubeconfig:
        os.environ["KUBECONFIG"] = str(kubeconfig)
        for served in deploy(local_ray, tmp_path_factory, NAME, canary_percent=0):
            yield Split(served, api, file, versions)
    if before is None:
        os.environ.pop("KUBECONFIG", None)
    else:
        os.environ["KUBECONFIG"] = before


def raygate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raygate.cli.main", *args],
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_a_canary_start_moves_the_route_and_the_canary_re_resolves_its_alias(split, registry):
    actions = Actions(registry, GatewaySplitControl(load_split(split.file), timeout_s=120))
    assert split.answered_by("u-1") == ("champion", f"{NAME}@{split.versions['v1']}")
    actions.start(NAME, split.versions["v2"], 5)
    assert split.weights() == {"champion": 9_500, "canary": 500}
    assert registry.aliases(NAME)["candidate"] == split.versions["v2"]
    split.served.control.wait_applied(split.served.control.set_weight(100), 120)
    assert split.answered_by("u-2") == ("canary", f"{NAME}@{split.versions['v2']}")
    split.served.control.wait_applied(split.served.control.set_weight(0), 120)


def test_promote_and_rollback_on_the_command_line_move_the_route_and_the_champion(split):
    promoted = raygate("promote", NAME, "--split", str(split.file), "--reason", "gateway test")
    assert promoted.returncode == 0, promoted.stderr[-2000:]
    assert split.weights() == {"champion": 10_000, "canary": 0}
    assert split.answered_by("u-3") == ("champion", f"{NAME}@{split.versions['v2']}")
    split.api.routes[ROUTE]["spec"]["rules"][0]["backendRefs"][1]["weight"] = 7  # drifted
    rolled = raygate("rollback", NAME, "--split", str(split.file))
    assert rolled.returncode == 0, rolled.stderr[-2000:]
    assert split.weights() == {"champion": 10_000, "canary": 0}
    assert split.answered_by("u-4") == ("champion", f"{NAME}@{split.versions['v1']}")


def test_a_model_the_split_s_clusters_do_not_serve_is_refused_before_anything_moves(
    split, registry, built_v1
):
    other = "not-served-here"
    version = registry.register(other, built_v1.model_uri, built_v1.tags).version
    registry.set_alias(other, "candidate", version)
    puts = split.api.puts
    done = raygate("promote", other, "--split", str(split.file))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"serves {NAME}, not {other}" in done.stderr
    assert split.api.puts == puts and registry.aliases(other) == {"candidate": version}


def test_a_gateway_split_without_prometheus_is_refused_before_anything_moves(split):
    puts = split.api.puts
    done = raygate("canary", "start", NAME, "--split", str(split.file))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "two Ray clusters" in done.stderr and "--prometheus" in done.stderr
    assert split.api.puts == puts


def test_an_app_serving_the_canary_alone_answers_every_request_as_the_canary(split):
    control = split.served.control
    details = control.details()
    (app,) = [a["deployed_app_config"] for a in details["applications"].values()]
    app = copy.deepcopy(app)
    restrict_to_variants(app, ["canary"])
    port = int(split.served.url.rsplit(":", 1)[1])
    config = {"http_options": {"host": "127.0.0.1", "port": port}, "applications": [app]}
    control.wait_applied(control.up(config), timeout_s=180)
    answers = {split.answered_by(f"user-{i}") for i in range(12)}
    assert answers == {("canary", f"{NAME}@{split.versions['v2']}")}
