"""Deployment configs checked by their own tools: the cluster launcher's schema for
cluster.yaml (and its pinned Ray matching the lock)."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _lock_version(package: str) -> str:
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.lower().startswith(f"{package}=="):
            return line.split("==", 1)[1]
    raise AssertionError(f"{package} is not in constraints.txt")


def test_cluster_yaml_passes_ray_s_own_schema_and_fills_its_defaults():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    prepared = prepare_config(config)  # what `ray up` does: defaults first, then the schema
    validate_config(prepared)
    assert prepared["head_node_type"] == "head.cpu"
    assert {"worker.gpu", "worker.cpu"} <= set(prepared["available_node_types"])


def test_cluster_yaml_pins_the_ray_of_the_lock_and_installs_from_the_lock():
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    assert config["docker"]["image"].startswith(f"rayproject/ray:{_lock_version('ray')}-")
    assert all("-c /home/ray/raygate/constraints.txt" in c for c in config["setup_commands"])


SECRET_SHAPES = (
    r"AKIA[0-9A-Z]{16}",  # AWS access key id
    r"sk-[A-Za-z0-9_-]{16,}",  # OpenAI-style keys
    r"gh[pousr]_[A-Za-z0-9]{20,}",  # GitHub tokens
    r"(?i)(password|secret|token|api_key)\s*[:=]\s*['\"]?[A-Za-z0-9/+_-]{8,}",
)


def test_the_image_is_pinned_installs_from_the_lock_runs_unprivileged_and_checks_health():
    text = (ROOT / "Dockerfile").read_text()
    assert f"rayproject/ray:{_lock_version('ray')}-py311-" in text and ":latest" not in text
    installs = [line for line in text.splitlines() if "pip install" in line]
    assert installs and all("-c constraints.txt" in line for line in installs)
    assert "USER ray" in text and "HEALTHCHECK" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".raygate", ".git"} <= set(ignored)


def test_no_config_or_image_definition_holds_a_secret_like_value():
    import re

    folders = ("serve_configs", "policies", "agents", "releases", "engines", "deploy")
    files = [ROOT / "Dockerfile", ROOT / "cluster.yaml"]
    files += [path for folder in folders for path in sorted((ROOT / folder).rglob("*.y*ml"))]
    found = [
        f"{path.name}: {match.group(0)}"
        for path in files
        for shape in SECRET_SHAPES
        for match in re.finditer(shape, path.read_text())
    ]
    assert found == []
    assert re.search(SECRET_SHAPES[0], "key AKIAQWERTYUIOPASDFGH")  # the search can find one


def test_generated_configs_have_not_drifted_and_the_rayservice_serves_the_local_one(tmp_path):
    import subprocess
    import sys

    from raygate.serving.control import load_serve_config

    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_deploy_configs.py"),
                            "--check"], capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stdout
    service = yaml.safe_load((ROOT / "deploy" / "k8s" / "rayservice.yaml").read_text())
    assert service["kind"] == "RayService" and service["spec"]["upgradeStrategy"]["type"]
    embedded = tmp_path / "serve.yaml"
    embedded.write_text(service["spec"]["serveConfigV2"])
    served = load_serve_config(embedded)  # raygate's own validation of the app and settings
    local = yaml.safe_load((ROOT / "serve_configs" / "canary.yaml").read_text())
    router = served["applications"][0]["deployments"][0]
    assert router["name"] == "router" and router["user_config"]["canary_percent"] == 0
    router["user_config"]["canary_percent"] = local["applications"][0]["deployments"][0][
        "user_config"
    ]["canary_percent"]  # the one difference: the CR holds the weight at rest
    assert served["applications"] == local["applications"]
    assert served["http_options"]["host"] == "0.0.0.0"
    groups = {g["groupName"]: g for g in service["spec"]["rayClusterConfig"]["workerGroupSpecs"]}
    gpu = groups["gpu"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert gpu["nvidia.com/gpu"] == "1"


def test_the_gpu_config_serves_the_vllm_agent_on_gpus_and_its_model_through_serve_llm():
    from raygate.config import load_agent_config
    from raygate.serving.control import load_serve_config
    from raygate.serving.llm_app import LLM_APP_IMPORT_PATH, validate_llm_config

    config = load_serve_config(ROOT / "serve_configs" / "gpu-vllm.yaml")  # raygate's checks
    apps = {a["name"]: a for a in config["applications"]}
    models = {d["name"]: d for d in apps["raygate"]["deployments"] if d["name"] != "router"}
    assert set(models) == {"champion", "canary"}
    assert all(d["ray_actor_options"]["num_gpus"] == 1 for d in models.values())
    assert models["champion"]["user_config"]["model_uri"] == "models:/reference-agent-vllm@champion"
    generator = load_agent_config(ROOT / "agents" / "vllm.yaml").generator
    assert apps["llm"]["import_path"] == LLM_APP_IMPORT_PATH
    (llm,) = apps["llm"]["args"]["llm_configs"]
    validate_llm_config(llm)  # Ray's own LLMConfig model
    assert llm["model_loading_config"]["model_source"] == generator.model
    assert llm["engine_kwargs"]["max_model_len"] == generator.max_model_len


def test_a_bad_llm_config_is_refused_with_ray_s_own_reason():
    import pytest

    from raygate.errors import ConfigError
    from raygate.serving.llm_app import validate_llm_config

    with pytest.raises(ConfigError, match=r"(?s)'tiny'.*accelerator_type"):
        validate_llm_config(
            {"model_loading_config": {"model_id": "tiny"}, "accelerator_type": "NO-SUCH-GPU"}
        )


def test_the_gateway_split_example_fits_together(tmp_path):
    """The route weights the two RayServices' Serve services, each serving its variant
    alone; the split file names those services and the RayServices' head services; the
    controller's Role grants what it calls."""
    from raygate.serving.control import load_serve_config
    from raygate.serving.gateway import GROUP, PLURAL, load_split

    k8s = ROOT / "deploy" / "k8s"
    route = yaml.safe_load((k8s / "gateway-split.yaml").read_text())
    assert route["kind"] == "HTTPRoute"
    (rule,) = route["spec"]["rules"]
    split = load_split(k8s / "split.gateway.yaml")
    services = list(yaml.safe_load_all((k8s / "rayservice-gateway.yaml").read_text()))
    assert [s["metadata"]["name"] for s in services] == ["raygate-champion", "raygate-canary"]
    for service, variant in zip(services, ("champion", "canary"), strict=True):
        target = getattr(split, variant)
        assert target.backend == f"{service['metadata']['name']}-serve-svc"
        assert f"//{service['metadata']['name']}-head-svc." in target.dashboard
        embedded = tmp_path / f"{variant}.yaml"
        embedded.write_text(service["spec"]["serveConfigV2"])
        (app,) = load_serve_config(embedded)["applications"]
        assert app["args"]["variants"] == [variant]
        assert {d["name"] for d in app["deployments"]} == {"router", variant}
    assert {ref["name"] for ref in rule["backendRefs"]} == {split.champion.backend,
                                                            split.canary.backend}  # fmt: skip
    role = next(d for d in yaml.safe_load_all((k8s / "controller-rbac.yaml").read_text())
                if d["kind"] == "Role")  # fmt: skip
    (grant,) = role["rules"]
    assert grant["apiGroups"] == [GROUP] and grant["resources"] == [PLURAL]
    assert set(grant["verbs"]) == {"get", "update"}
