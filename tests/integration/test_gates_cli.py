import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from raygate.cli.main import app
from tests.integration.conftest import log_code_model
from tests.integration.test_eval import ALWAYS_ABSTAIN

AGENTS = Path(__file__).resolve().parents[2] / "agents"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def run_json(*args, exit_code: int = 0):
    result = run(*args, "--json")
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


@pytest.fixture
def lenient(tmp_path) -> Path:
    """Absolute gates the extractive agent meets; the paired regression test stays on."""
    path = tmp_path / "lenient.yaml"
    path.write_text(yaml.safe_dump({
        "absolute": {"quality_min": 0.2, "refusal_accuracy_min": None},
        "relative": {"method": "mcnemar", "confidence": 0.95},
    }))  # fmt: skip
    return path


@dataclass(frozen=True)
class Champion:
    name: str
    eval_run_id: str


@pytest.fixture(scope="module")
def champion(local_ray, raygate_home) -> Champion:
    """A champion (v1) evaluated on smoke, shared by the module's tests: only the first test
    registers a second version, and none moves `champion`."""
    model_name = "gated-agent"
    run_json("agent", "build", AGENTS / "v1.yaml", "--register", model_name, "--alias", "champion")
    out = run_json("eval", f"models:/{model_name}@champion", "--gold", "smoke", "--workers", "1")
    assert out["model_id"] == f"{model_name}@1" and out["metrics"]["rows"] == 30
    return Champion(model_name, out["run_id"])


def test_candidate_gated_against_champion_then_registered(champion, lenient, tmp_path):
    name = champion.name
    built = run_json("agent", "build", AGENTS / "v2.yaml")
    evaluated = run_json(
        "eval", built["model_uri"], "--gold", "smoke", "--workers", "2", "--batch-size", "4"
    )
    decision = run_json("gate", evaluated["run_id"], "--policy", lenient, "--name", name)
    gates = {g["name"]: g for g in decision["gates"]}
    assert decision["passed"] and gates["regression.quality"]["verdict"] == "pass"
    assert decision["policy"] == str(lenient)  # which policy judged it is said
    assert f"vs {name}@1" in gates["regression.quality"]["detail"]
    assert gates["contract.signature"]["verdict"] == "pass"
    strict = tmp_path / "strict.yaml"
    strict.write_text("absolute:\n  quality_min: 0.99\n")
    run_id = evaluated["run_id"]
    refused = run_json("register", run_id, "--name", name, "--policy", strict, exit_code=1)
    assert refused["registered"] is None and not refused["passed"]
    assert refused["policy"] == str(strict)
    assert run_json("registry", "show", name)["aliases"] == {"champion": 1}
    registered = run_json("register", evaluated["run_id"], "--name", name, "--policy", lenient)
    assert registered["registered"] == {
        "model_id": f"{name}@2",
        "alias": "candidate",
        "action": "set",
    }
    shown = run_json("registry", "show", name)
    assert shown["aliases"] == {"candidate": 2, "champion": 1}
    assert shown["versions"][1]["tags"]["raygate.eval_run_id"] == evaluated["run_id"]


def test_a_significantly_worse_candidate_fails_the_paired_gate(champion, lenient, tmp_path):
    worse = log_code_model(tmp_path, ALWAYS_ABSTAIN)
    evaluated = run_json("eval", worse, "--gold", "smoke", "--workers", "1")
    result = run(
        "gate", evaluated["run_id"], "--policy", lenient, "--name", champion.name, "--json"
    )
    assert result.exit_code == 1
    gates = {g["name"]: g for g in json.loads(result.stdout)["gates"]}
    assert gates["regression.quality"]["verdict"] == "fail"
    assert gates["regression.quality"]["measured"] < 0


def test_quality_per_gold_category_is_gated_on_the_runs_own_categories(champion, tmp_path):
    policy = tmp_path / "categories.yaml"
    policy.write_text(yaml.safe_dump({"relative": None, "absolute": {
        "quality_min": None, "refusal_accuracy_min": None, "cost_usd_per_request_max": None,
        "category_quality_min": {"factual": 0.01, "billing": 0.5},
    }}))  # fmt: skip
    result = run("gate", champion.eval_run_id, "--policy", policy, "--json")
    assert result.exit_code == 1, result.output
    gates = {g["name"]: g for g in json.loads(result.stdout)["gates"]}
    assert gates["quality.factual"]["verdict"] == "pass"
    assert 0 < gates["quality.factual"]["measured"] <= 1
    assert gates["quality.billing"]["verdict"] == "fail"
    assert "no rows of category 'billing'" in gates["quality.billing"]["detail"]


def test_check_runs_the_contract_alone(champion):
    built = run_json("agent", "build", AGENTS / "v2.yaml")
    decision = run_json("check", built["model_uri"], "--name", champion.name)
    assert decision["passed"] and decision["against"] == f"{champion.name}@1"
    assert [g["name"] for g in decision["gates"]] == [
        "contract.signature",
        "contract.prompts",
        "contract.tools",
    ]
    tools = decision["gates"][2]
    assert tools["verdict"] == "pass" and "calculate" in tools["detail"]  # the build wrote them
    # a fresh process given only the logged model's URI finds it in raygate's store
    command = [sys.executable, "-m", "raygate.cli.main", "check", built["model_uri"], "--json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}  # a user's shell
    alone = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert alone.returncode == 0, alone.stderr
    assert json.loads(alone.stdout)["gates"][1]["detail"] == "grounded-answer@2"


def test_a_broken_tool_schema_fails_the_contract(raygate_home, tmp_path):
    schemas = tmp_path / "tool_schemas.json"
    schemas.write_text(json.dumps([
        {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "strng"}},
                                          "required": ["q"]}},
        {"name": "lookup", "parameters": {"type": "object", "properties": {},
                                          "required": ["id"]}},
    ]))  # fmt: skip
    uri = log_code_model(tmp_path, ALWAYS_ABSTAIN, artifacts={"tool_schemas": str(schemas)})
    decision = run_json("check", uri, "--against", "", exit_code=1)
    tools = {g["name"]: g for g in decision["gates"]}["contract.tools"]
    assert tools["verdict"] == "fail" and not decision["passed"]
    assert "tool 'lookup'" in tools["detail"] and "declared twice" in tools["detail"]
    assert "required field(s) id not in properties" in tools["detail"]


def test_a_model_without_tools_is_reported_as_such(raygate_home, tmp_path):
    uri = log_code_model(tmp_path, ALWAYS_ABSTAIN)  # no signature either: that gate fails
    decision = run_json("check", uri, "--against", "", exit_code=1)
    tools = {g["name"]: g for g in decision["gates"]}["contract.tools"]
    assert tools["verdict"] == "skipped" and "declares no tools" in tools["detail"]
    signature = {g["name"]: g for g in decision["gates"]}["contract.signature"]
    assert signature["verdict"] == "fail" and "input_example=" in signature["detail"]


def test_gate_needs_an_eval_run(raygate_home, built_v1):
    for run_id in ("0123456789abcdef", built_v1.run_id):
        result = run("gate", run_id)
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert result.stderr.startswith("error: ") and "raygate eval" in result.stderr


def test_champion_without_an_eval_on_this_gold_set(champion, lenient, tiny_gold):
    built = run_json("agent", "build", AGENTS / "v2.yaml")
    evaluated = run_json("eval", built["model_uri"], "--gold", tiny_gold, "--workers", "1")
    result = run("gate", evaluated["run_id"], "--policy", lenient, "--name", champion.name)
    assert result.exit_code == 2
    assert (
        "has no eval on gold set 'tiny'" in result.stderr
        and "raygate eval models:/" in result.stderr
    )


def log_load_run(model_ids: list[str]) -> str:
    """A load run as `raygate loadtest --log-mlflow` records it (metrics and answering ids)."""
    import mlflow

    from raygate import constants as c
    from raygate.tracking import configure_mlflow

    configure_mlflow()
    with mlflow.start_run(run_name="loadtest-open") as run:
        mlflow.set_tags({c.TAG_RUN_KIND: c.RUN_KIND_LOADTEST,
                         c.TAG_LOAD_MODEL_IDS: json.dumps(model_ids)})  # fmt: skip
        mlflow.log_metrics({"load.latency_ms_p95": 50.0, "load.error_rate": 0.0,
                            "load.achieved_rate_rps": 20.0})  # fmt: skip
    return run.info.run_id


def test_a_load_run_the_candidate_did_not_answer_alone_is_refused(champion, lenient, tmp_path):
    name, run_id = champion.name, champion.eval_run_id
    policy = tmp_path / "with_load.yaml"
    policy.write_text(lenient.read_text() + "load:\n  latency_ms_p95_max: 800\n")
    other = log_load_run(["someone-else@9"])
    refused = run("gate", run_id, "--policy", policy, "--load-run", other,
                  "--against", "")  # fmt: skip
    assert refused.exit_code == 2 and "was answered by someone-else@9" in refused.stderr
    assert f"not by the candidate {name}@1" in refused.stderr
    mixed = log_load_run([f"{name}@1", "someone-else@9"])  # a canary at 5 %: mostly another's
    refused = run("gate", run_id, "--policy", policy, "--load-run", mixed, "--against", "")
    assert refused.exit_code == 2, refused.output
    assert f"answered by someone-else@9 as well as the candidate {name}@1" in refused.stderr
    ours = log_load_run([f"{name}@1"])
    decision = run_json("gate", run_id, "--policy", policy, "--load-run", ours,
                        "--against", "")  # fmt: skip
    gates = {g["name"]: g for g in decision["gates"]}
    assert gates["load.latency_p95"]["verdict"] == "pass"
