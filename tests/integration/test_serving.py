"""The serving app on a real local Ray: deployed through the dashboard's Serve API exactly as
`raygate serve up` does, champion v1 and canary v2 registered in a real MLflow store."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from scipy.stats import binomtest

from raygate.config import load_agent_config
from raygate.packaging.build import log_agent_model
from raygate.serving.control import ServeControl, load_serve_config
from raygate.testing import free_port
from raygate.testing.serve_configs import small_app_config
from tests.integration.conftest import AGENTS, prometheus_server

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-7f3a"
QUERY = "What is the return window for Kitchen products?"


@dataclass
class Served:
    url: str
    control: ServeControl
    model_name: str
    headers: dict[str, str]

    def predict(
        self, body: dict, token: str | None = TOKEN, headers: dict | None = None, **kwargs
    ) -> requests.Response:
        headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        return requests.post(f"{self.url}/v1/predict", json=body, headers=headers, timeout=30,
                             **kwargs)  # fmt: skip


def running(status: dict) -> bool:
    return status["status"] == "RUNNING" and all(
        d["status"] == "HEALTHY" for d in status["deployments"].values()
    )


@pytest.fixture(scope="module")
def served(local_ray, raygate_home, tmp_path_factory) -> Iterator[Served]:
    from raygate.registry.mlflow_registry import MlflowRegistry

    registry = MlflowRegistry()
    name = "serve-agent"
    for config, alias in (("v1.yaml", "champion"), ("v2.yaml", "candidate")):
        built = log_agent_model(load_agent_config(AGENTS / config))
        version = registry.register(name, built.model_uri, built.tags)
        registry.set_alias(name, alias, version.version)
    limit = {"requests_per_minute": 60000, "burst": 5000}
    yield from deploy(local_ray, tmp_path_factory, name, rate_limit=limit)


def deploy(
    local_ray: str,
    tmp_path_factory,
    name: str,
    champion_autoscaling: dict | None = None,
    variants: tuple[str, ...] = ("champion", "canary"),
    model_options: dict | None = None,
    **router_settings,
) -> Iterator[Served]:
    """serve_configs/canary.yaml for model `name` (one small replica a variant unless the
    champion autoscales, only `variants`, the router's settings overridden, `model_options`
    set on the model deployments), deployed through the Serve API; taken down afterwards."""
    import os

    from ray import serve

    tokens = tmp_path_factory.mktemp("secrets") / "tokens"
    tokens.write_text(f"# API tokens, one per line\n{TOKEN}\n")
    port = free_port()
    config = small_app_config(
        load_serve_config(ROOT / "serve_configs" / "canary.yaml"), name, port,
        variants=variants, router=router_settings,
        model_options={"ray_actor_options": {"num_cpus": 0.5}, **(model_options or {})},
    )  # fmt: skip
    if champion_autoscaling:
        champion = next(d for d in config["applications"][0]["deployments"]
                        if d["name"] == "champion")  # fmt: skip
        del champion["num_replicas"]
        champion["autoscaling_config"] = champion_autoscaling
    os.environ["RAYGATE_API_TOKENS_FILE"] = str(tokens)
    control = ServeControl(local_ray)
    control.wait_applied(control.up(config), timeout_s=180)
    yield Served(f"http://127.0.0.1:{port}", control, name, {"Authorization": f"Bearer {TOKEN}"})
    control.down()
    serve.shutdown()
    os.environ.pop("RAYGATE_API_TOKENS_FILE", None)


def set_weight(served: Served, percent: float) -> None:
    """Move the split and wait until every router replica has applied it (no sleeping)."""
    served.control.wait_applied(served.control.set_weight(percent), timeout_s=120)


def test_every_answer_names_its_variant_model_and_trace(served):
    response = served.predict({"query": QUERY, "user_id": "u-1"})
    body = response.json()
    assert response.status_code == 200 and body["answer"] == "60 days"
    assert body["variant"] == response.headers["x-raygate-variant"]
    assert body["model_id"] == response.headers["x-raygate-model-id"]
    assert body["model_id"].startswith(f"{served.model_name}@")
    assert (
        body["trace_id"] == response.headers["x-raygate-trace-id"] and len(body["trace_id"]) == 32
    )


def test_canary_share_is_within_a_binomial_interval_and_users_are_sticky(served):
    set_weight(served, 20)
    anonymous = Counter(served.predict({"query": "hi"}).json()["variant"] for _ in range(300))
    interval = binomtest(anonymous["canary"], 300, 0.2).proportion_ci(confidence_level=0.999)
    assert interval.low <= 0.2 <= interval.high, anonymous
    per_user = {
        f"user-{i}": {served.predict({"query": "hi", "user_id": f"user-{i}"}).json()["variant"]
                      for _ in range(3)}
        for i in range(60)
    }  # fmt: skip
    assert all(len(variants) == 1 for variants in per_user.values())  # one user, one variant
    canary_at_20 = {u for u, v in per_user.items() if v == {"canary"}}
    set_weight(served, 50)
    canary_at_50 = {
        u for u in per_user if served.predict({"query": "hi", "user_id": u}).json()["variant"]
        == "canary"
    }  # fmt: skip
    assert canary_at_20 <= canary_at_50  # a ramp only moves users towards the canary
    set_weight(served, 5)


def test_a_weight_change_restarts_no_replica(served):
    before = {n: d["replica_ids"] for n, d in served.control.status()["deployments"].items()}
    set_weight(served, 10)
    after = {n: d["replica_ids"] for n, d in served.control.status()["deployments"].items()}
    assert before == after
    set_weight(served, 5)


def test_auth_limits_and_bad_input_get_clear_4xx(served):
    assert requests.get(f"{served.url}/healthz", timeout=10).status_code == 200
    assert requests.get(f"{served.url}/readyz", timeout=10).json()["status"] == "ready"
    for probe in ("healthz", "health", "readyz"):  # uptime monitors and load balancers HEAD
        assert requests.head(f"{served.url}/{probe}", timeout=10).status_code == 200
    for token in (None, "wrong-token"):
        response = served.predict({"query": QUERY}, token=token)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert requests.get(f"{served.url}/openapi.json", timeout=10).status_code == 401
    missing = served.predict({"qurey": QUERY})
    assert missing.status_code == 422 and missing.json()["error"]["param"] == "query"
    assert "unknown field(s): qurey" in missing.json()["error"]["message"]
    wrong_type = served.predict({"query": 42})
    assert wrong_type.status_code == 422 and "'query'" in wrong_type.json()["error"]["message"]
    malformed = requests.post(
        f"{served.url}/v1/predict",
        data="{not json",
        timeout=10,
        headers={**served.headers, "content-type": "application/json"},
    )
    assert malformed.status_code == 422 and "JSON" in malformed.json()["error"]["message"]
    pasted = served.predict({"query": QUERY + " Notes: " + "a pasted document. " * 10_000})
    assert pasted.status_code == 200, pasted.text  # 190 kB: a long paste is no abuse
    huge = served.predict({"query": "x" * 1_100_000})
    assert huge.status_code == 413 and "1048576 bytes" in huge.json()["error"]["message"]
    as_json = {**served.headers, "content-type": "application/json"}
    body = json.dumps({"query": "x" * 1_100_000}).encode()
    chunked = requests.post(f"{served.url}/v1/predict", data=iter([body[:550_000], body[550_000:]]),
                            headers=as_json, timeout=10)  # fmt: skip
    assert chunked.status_code == 413 and chunked.json() == huge.json()
    not_utf8 = requests.post(f"{served.url}/v1/predict", data=b'{"query": "\xff"}',
                             headers=as_json, timeout=10)  # fmt: skip
    assert not_utf8.status_code == 400 and "not UTF-8" in not_utf8.json()["error"]["message"]
    half_a_pair = requests.post(f"{served.url}/v1/predict", data=b'{"query": "hi", "user_id": '
                                b'"\\ud800"}', headers=as_json, timeout=10)  # fmt: skip
    assert half_a_pair.status_code == 422 and half_a_pair.json()["error"]["param"] == "user_id"
    chat = requests.post(
        f"{served.url}/v1/chat/completions",
        headers=served.headers,
        timeout=10,
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert chat.status_code == 404 and served.model_name in chat.json()["error"]["message"]
    assert chat.json()["error"]["code"] == "model_not_found"
    for path, body, param in (
        ("chat/completions", {"messages": [{"role": "system", "content": "x"}]}, "messages"),
        ("responses", {"input": "  "}, "input"),
    ):
        silent = requests.post(f"{served.url}/v1/{path}", headers=served.headers, timeout=10,
                               json={"model": served.model_name, **body})  # fmt: skip
        assert silent.status_code == 422 and silent.json()["error"]["param"] == param
    unknown = requests.post(f"{served.url}/v1/embeddings", headers=served.headers, timeout=10,
                            json={"model": served.model_name, "input": "hi"})  # fmt: skip
    assert unknown.status_code == 404
    assert "no endpoint POST /v1/embeddings; this API serves " in unknown.json()["error"]["message"]
    assert "POST /v1/completions" in unknown.json()["error"]["message"]
    wrong_method = requests.get(f"{served.url}/v1/chat/completions", headers=served.headers,
                                timeout=10)  # fmt: skip
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["message"].endswith("is not allowed; use POST")


def test_clients_of_other_openai_compatible_servers_work_unchanged(served):
    """vLLM-style clients (guidellm's defaults) probe /health and send vLLM's extensions."""
    assert requests.get(f"{served.url}/health", timeout=10).status_code == 200
    body = {
        "model": served.model_name, "stream": True, "top_k": 1, "ignore_eos": False,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
        "messages": [{"role": "user", "content": "Express fee for shipping to Germany?"}],
    }  # fmt: skip
    response = requests.post(f"{served.url}/v1/chat/completions", json=body,
                             headers=served.headers, timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text
    events = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]" and '"usage"' in events[-2]
    unauthorized = requests.post(f"{served.url}/v1/chat/completions", json=body, timeout=10)
    assert unauthorized.json()["error"]["code"] == "invalid_api_key"


def test_past_the_rate_limit_the_answer_is_429_with_retry_after(served):
    limited = {"requests_per_minute": 6, "burst": 3}
    served.control.wait_applied(served.control.update_settings("router", rate_limit=limited), 120)
    try:
        codes = [served.predict({"query": "hi"}) for _ in range(6)]
        limited = [r for r in codes if r.status_code == 429]
        assert limited and int(limited[0].headers["retry-after"]) >= 1
        assert "rate limit" in limited[0].json()["error"]["message"]
    finally:
        generous = {"requests_per_minute": 60000, "burst": 5000}
        served.control.wait_applied(
            served.control.update_settings("router", rate_limit=generous), 120
        )


def test_the_official_openai_client_talks_to_the_chat_endpoint(served):
    import openai

    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key=TOKEN, max_retries=0)
    models = {m.id for m in client.models.list().data}
    assert served.model_name in models
    messages = [{"role": "user", "content": "What is the express fee for shipping to Germany?"}]
    completion = client.chat.completions.create(model=served.model_name, messages=messages)
    assert completion.choices[0].message.content == "$9.00"
    assert completion.usage.prompt_tokens > 0 and completion.model.startswith(served.model_name)
    answer = client.responses.create(model=served.model_name, input=messages[0]["content"])
    assert answer.output_text == "$9.00" and answer.usage.input_tokens > 0
    stream = client.chat.completions.create(
        model=served.model_name, messages=messages, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "$9.00" and chunks[-1].usage.completion_tokens >= 1
    # what the model cannot give is refused, not answered with text the client cannot parse
    with pytest.raises(openai.UnprocessableEntityError, match="does not guarantee JSON"):
        client.chat.completions.create(model=served.model_name, messages=messages,
                                       response_format={"type": "json_object"})  # fmt: skip
    # the legacy completions endpoint (vLLM's benchmark sends it by default): the prompt is
    # asked as one user turn
    legacy = client.completions.create(model=served.model_name, prompt=messages[0]["content"],
                                       max_tokens=32, temperature=0)  # fmt: skip
    assert legacy.choices[0].text == "$9.00" and legacy.choices[0].finish_reason == "stop"
    streamed = client.completions.create(model=served.model_name, prompt=messages[0]["content"],
                                         stream=True)  # fmt: skip
    assert "".join(c.choices[0].text for c in streamed if c.choices) == "$9.00"


def test_the_openai_generator_answers_through_raygates_own_endpoint(served, monkeypatch):
    from raygate.agent.generators import GenerationRequest, make_generator
    from raygate.config import OpenAIGeneratorConfig
    from raygate.errors import GeneratorError

    monkeypatch.setenv("RAYGATE_TEST_KEY", TOKEN)
    config = OpenAIGeneratorConfig(
        kind="openai",
        base_url=f"{served.url}/v1",
        model=served.model_name,
        api_key_env="RAYGATE_TEST_KEY",
    )
    request = GenerationRequest("q", "sys", "What is the express fee for shipping to Germany?", ())
    (generation,) = make_generator(config).generate([request])
    assert generation.text == "$9.00" and generation.tokens_in > 0 and generation.tokens_out >= 1
    pieces: list[str] = []  # streamed: the same answer, usage from the last chunk
    streamed = make_generator(config).stream(request, pieces.append)
    assert "".join(pieces) == streamed.text == "$9.00"
    assert streamed.tokens_out == generation.tokens_out
    monkeypatch.setenv("RAYGATE_TEST_KEY", "wrong")
    with pytest.raises(GeneratorError, match="refused"):
        make_generator(config).generate([request])


def test_a_version_change_under_steady_load_fails_no_request(served, registry):
    set_weight(served, 0)  # every request goes to the champion, whose version changes
    before = served.predict({"query": QUERY, "user_id": "steady"}).json()["model_id"]
    built = log_agent_model(load_agent_config(AGENTS / "v1.yaml"))
    new = registry.register(served.model_name, built.model_uri, built.tags)
    results: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def load() -> None:
        deadline = time.monotonic() + 120  # bounded in time and count
        while not stop.is_set() and time.monotonic() < deadline and len(results) < 5000:
            response = served.predict({"query": QUERY, "user_id": "steady"})
            results.append((response.status_code, response.json().get("model_id")))

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(1)
        registry.set_alias(served.model_name, "champion", new.version)
        served.control.refresh("champion")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(m == new.model_id for _, m in results[-20:]):
            time.sleep(0.5)
        time.sleep(1)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    set_weight(served, 5)
    served_ids = [m for _, m in results]
    assert [code for code, _ in results if code != 200] == []
    assert before in served_ids and new.model_id in served_ids
    # Once the new version answers, the old one never does again (a clean swap).
    first_new = served_ids.index(new.model_id)
    assert before not in served_ids[first_new + 4 :]


def test_serve_status_lists_the_version_each_model_replica_serves(served):
    from typer.testing import CliRunner

    from raygate.cli.main import app

    set_weight(served, 0)
    answered = served.predict({"query": "hi", "user_id": "u-status"}).json()["model_id"]
    set_weight(served, 5)
    result = CliRunner().invoke(
        app, ["serve", "status", "--address", served.control.address, "--json"]
    )
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    for name in ("champion", "canary"):
        deployment = status["deployments"][name]
        versions = deployment["replica_versions"]
        assert sorted(versions) == deployment["replica_ids"] and all(versions.values())
        assert deployment["mixed_versions"] is None
    (entry,) = status["deployments"]["champion"]["replica_versions"].values()
    assert entry["model_id"] == answered and entry["variant"] == "champion"
    assert "replica_versions" not in status["deployments"]["router"]


def test_a_fresh_shell_sends_the_local_ray_token_and_a_refused_one_says_what_to_set(served):
    """Ray 2.60 turns token auth on for a local cluster (`ray start --head`, `ray.init()`) and
    keeps the token in ~/.ray/auth_token; a shell without RAY_AUTH_MODE still reaches the local
    dashboard, and one that opts out is told which variables to set, not shown a traceback."""
    import os

    command = [str(Path(sys.executable).parent / "raygate"), "serve", "status",
               "--address", served.control.address, "--json"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_AUTH", "RAY_ADDRESS"))}
    fresh = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert set(json.loads(fresh.stdout)["deployments"]) == {"router", "champion", "canary"}
    assert "Token authentication is enabled" not in fresh.stderr  # Ray's note for starting one
    env["RAY_AUTH_MODE"] = "disabled"
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "RAY_AUTH_MODE=token" in refused.stderr, refused.stderr[-2000:]


def test_a_model_that_fails_to_load_leaves_the_previous_version_serving(served):
    before = served.predict({"query": "hi", "user_id": "u-fail"}).json()
    variant = before["variant"]
    missing = f"models:/{served.model_name}/999"
    served.control.wait_applied(served.control.update_settings(variant, model_uri=missing), 120)
    after = served.predict({"query": "hi", "user_id": "u-fail"})
    assert after.status_code == 200 and after.json()["model_id"] == before["model_id"]
    ready = requests.get(f"{served.url}/readyz", timeout=10).json()
    (info,) = [v for v in ready["variants"] if v["variant"] == variant]
    assert "999" in info["load_error"] and info["model_id"] == before["model_id"]


def test_generated_requests_never_get_a_5xx_nor_an_off_schema_response(served):
    """Property-based requests from /openapi.json (Schemathesis): each answer is a documented
    2xx or 4xx whose body matches the schema; bounded at 30 examples per operation."""
    document = requests.get(f"{served.url}/openapi.json", headers=served.headers, timeout=10)
    api = schemathesis.openapi.from_dict(document.json())
    operations = [result.ok() for result in api.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/predict", "/v1/chat/completions"}
    for operation in operations:

        @settings(max_examples=30, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())
        def check(case) -> None:
            case.call_and_validate(base_url=served.url, headers=served.headers, timeout=30)

        check()


def test_load_test_end_to_end_against_the_serving_app(served, tmp_path):
    from raygate.loadtest.arrival import ArrivalConfig
    from raygate.loadtest.runner import run_load
    from raygate.loadtest.transport import Target
    from raygate.loadtest.workload import load_workload

    prompts = load_workload("smoke", None, 50, seed=0)
    closed = run_load(Target(served.url, token=TOKEN), ArrivalConfig(concurrency=4, duration_s=3),
                      prompts, tmp_path / "closed", slos={"error_rate": 0.0})  # fmt: skip
    summary = closed.summary
    assert summary["requests"] > 10 and summary["error_rate"] == 0 and summary["slo"]["passed"]
    assert summary["requests_by_variant"].get("champion", 0) > 0
    assert summary["output_tokens_per_s"] > 0 and summary["cost_usd_total"] is not None
    target = Target(served.url, "openai", TOKEN, served.model_name, stream=True)
    streamed = run_load(target, ArrivalConfig(rate=10, duration_s=2, process="constant"),
                        prompts, tmp_path / "stream").summary  # fmt: skip
    assert streamed["requests"] == 20 and streamed["error_rate"] == 0
    assert streamed["ttft_ms_p50"] is not None and streamed["ttft_ms_p50"] > 0


def test_loadtest_cli_reports_json_judges_slos_and_logs_to_mlflow(served, tmp_path):
    import os

    import ray

    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
           "RAYGATE_API_TOKEN": TOKEN}  # fmt: skip
    command = [sys.executable, "-m", "raygate.cli.main", "loadtest", served.url, "--rate", "20",
               "--duration", "2", "--workload", "smoke", "--slo", "error_rate=0",
               "--out", str(tmp_path), "--log-mlflow", "--json"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["slo"]["passed"] and summary["mlflow_run_id"]
    assert (tmp_path / "results.parquet").is_file()
    from raygate.gates.evidence import load_run_metrics

    logged = load_run_metrics(summary["mlflow_run_id"])  # what `gate --load-run` reads
    assert logged["load.requests"] == summary["requests"] and "load.latency_ms_p95" in logged
    missed = subprocess.run([*command[:-4], "--slo", "latency_ms_p50=0.001", "--json"], env=env,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert missed.returncode == 1 and not json.loads(missed.stdout)["slo"]["passed"]
    bad = subprocess.run([*command[:7], "--slo", "p95<800"], env=env, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "bad SLO 'p95<800'" in bad.stderr
    neither = subprocess.run(command[:5], env=env, capture_output=True, text=True, timeout=60)
    assert "give exactly one of rate (--rate, open loop) or concurrency" in neither.stderr
    odd = subprocess.run([*command[:7], "--arrival", "bursty"], env=env, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert odd.returncode == 2 and "--arrival: Input should be" in odd.stderr
    assert "'bursty'" in odd.stderr


def _lines(folder: Path, pattern: str) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.glob(pattern))
            for line in path.read_text().splitlines()]  # fmt: skip


def test_one_trace_crosses_router_and_replica_and_each_request_is_recorded(served, raygate_home):
    from raygate.telemetry.records import RequestRecord

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    body = {"query": QUERY, "user_id": "alice@example.com", "request_id": "r-trace-1"}
    response = served.predict(body, headers=headers)
    assert response.status_code == 200 and response.json()["trace_id"] == trace_id

    traces = raygate_home / "telemetry" / "traces"
    deadline = time.monotonic() + 30  # spans leave each replica in batches, every few seconds
    while time.monotonic() < deadline:
        spans = [s for s in _lines(traces, "spans-*.jsonl") if s["trace_id"] == trace_id]
        names = {s["name"].split(" ")[0] for s in spans}
        if {"POST", "predict", "invoke_agent"} <= names:
            break
        time.sleep(1)
    by_id = {s["span_id"]: s for s in spans}
    names = {s["name"]: s for s in spans}
    route, replica = names["POST /v1/predict"], names["predict champion"]
    agent = next(s for s in spans if s["name"].startswith("invoke_agent"))
    assert route["parent_span_id"] == "00f067aa0ba902b7" and route["service"] == "raygate-router"
    assert by_id[replica["parent_span_id"]] is route and replica["service"] == "raygate-champion"
    assert by_id[agent["parent_span_id"]] is replica
    assert any(s["name"].startswith("chat ") for s in spans)
    assert route["attributes"]["raygate.variant"] == "champion"
    assert route["attributes"]["http.response.status_code"] == 200

    lines = _lines(raygate_home / "telemetry" / "records", "requests-*.jsonl")
    records = [RequestRecord.model_validate(r) for r in lines]
    (mine,) = [r for r in records if r.trace_id == trace_id]
    assert mine.variant == "champion" and mine.status == 200 and mine.finish_reason == "answer"
    assert mine.latency_ms >= mine.latency_ms_total > 0 and mine.tokens_out > 0
    assert mine.user and "alice" not in mine.model_dump_json() and mine.request != "r-trace-1"


def _query(prometheus: str, expr: str) -> dict[str, float]:
    response = requests.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    assert response.status_code == 200, response.text
    return {
        r["metric"].get("variant", ""): float(r["value"][1])
        for r in response.json()["data"]["result"]
    }


def _send(served: Served, count: int, tag: str) -> None:
    statuses = Counter(
        served.predict({"query": QUERY, "user_id": f"{tag}-{i}"}).status_code for i in range(count)
    )
    assert statuses == {200: count}


def _until(prometheus: str, expr: str, done, timeout_s: float = 90) -> dict[str, float]:
    """Poll a query until done(result); Ray exports every 10 s, Prometheus scrapes every 5 s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = _query(prometheus, expr)
        if done(result):
            return result
        time.sleep(2)
    raise AssertionError(f"{expr}: {result}")


def test_prometheus_scrapes_per_variant_series_through_ray(served, prometheus):
    set_weight(served, 50)
    app = f'application="raygate",model="{served.model_name}"'  # not other tests' apps
    totals = f"sum by (variant) (ray_raygate_requests_total{{{app}}})"
    _send(served, 10, "prom-a")
    first = _until(prometheus, totals, lambda r: set(r) == {"champion", "canary"})
    _send(served, 30, "prom-b")  # counters move after Prometheus first saw them: rates > 0
    _until(prometheus, totals, lambda r: sum(r.values()) >= sum(first.values()) + 30)
    rates = _until(prometheus, f"raygate:requests:rate5m{{{app}}}",
                   lambda r: len(r) == 2 and min(r.values()) > 0)  # fmt: skip
    assert set(rates) == {"champion", "canary"}
    p95 = _query(prometheus, f"raygate:latency_ms:p95_10m{{{app}}}")
    assert set(p95) == {"champion", "canary"} and all(0 < v < 60000 for v in p95.values()), p95
    tokens = _until(  # its own series: exported in Ray's cycle, maybe after the requests'
        prometheus, f'sum by (variant) (ray_raygate_tokens_total{{{app},type="input"}})',
        lambda r: set(r) == {"champion", "canary"} and min(r.values()) > 0,
    )  # fmt: skip
    assert set(tokens) == {"champion", "canary"} and min(tokens.values()) > 0, tokens
    labels = requests.get(f"{prometheus}/api/v1/labels", timeout=10).json()["data"]
    assert "user" not in labels and "user_id" not in labels
    models = requests.get(f"{prometheus}/api/v1/label/model/values", timeout=10).json()["data"]
    assert served.model_name in models  # every series names the registered model it serves
    set_weight(served, 0)


def test_the_canary_judge_reads_prometheus_counts_as_the_clients_saw_them(
    served, prometheus, tmp_path
):
    from raygate.canary.prometheus import PrometheusProvider
    from raygate.errors import MetricsError

    set_weight(served, 50)
    provider = PrometheusProvider(prometheus, served.model_name, lag_s=0)
    another_model = PrometheusProvider(prometheus, "another-model", lag_s=0)
    totals = 'sum(ray_raygate_requests_total{application="raygate"})'
    _send(served, 1, "judge-warm-up")  # the series exists even when this test runs alone
    quiet, settled = _until(prometheus, totals, lambda r: r), {}
    for _ in range(10):  # earlier tests' requests have all arrived: the total stays the same
        time.sleep(12)  # over more than Ray's 10-s metrics report interval
        settled = _query(prometheus, totals)
        if settled == quiet:
            break
        quiet = settled
    assert settled == quiet, "Ray kept exporting earlier requests for two minutes"
    start = time.time()
    seen = Counter(
        served.predict({"query": QUERY, "user_id": f"judged-{i}"}).json()["variant"]
        for i in range(40)
    )
    assert set(seen) == {"champion", "canary"}

    counts = {}

    def judged():
        window = provider.window(start, time.time())
        counts.update(champion=window.champion.requests, canary=window.canary.requests)
        return window if counts == dict(seen) else None

    deadline, window = time.monotonic() + 150, None  # Ray exports every 10 s; slow CI hosts lag
    while window is None and time.monotonic() < deadline:
        window = judged()
        time.sleep(2)
    target = requests.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]
    health = [{k: t[k] for k in ("health", "lastError", "lastScrapeDuration")}
              for t in target["activeTargets"]]  # fmt: skip
    assert window is not None, f"Prometheus never showed {dict(seen)}: {counts}; {health}"
    elsewhere = another_model.window(start, time.time())  # one Prometheus, many apps' models
    assert elsewhere.champion.requests == elsewhere.canary.requests == 0
    for variant in ("champion", "canary"):
        answered = getattr(window, variant)
        assert answered.errors == 0 and answered.latency_ms.count == seen[variant]
        assert answered.cost_usd.count == seen[variant] and answered.cost_missing == 0
    with pytest.raises(MetricsError, match="did not answer"):
        PrometheusProvider(f"http://127.0.0.1:{free_port()}").window(start, time.time())
    from raygate.errors import ConfigError

    provider.check()  # a release checks its Prometheus before it acts
    with (
        prometheus_server(tmp_path, "global: {scrape_interval: 5s}\n") as scrapes_nothing,
        pytest.raises(ConfigError, match="holds no Ray metrics: add each Ray node's"),
    ):
        PrometheusProvider(scrapes_nothing).check()
    with pytest.raises(ConfigError, match=r"does not answer as Prometheus does: .*HTTP 404.*"
                       r"fix --prometheus"):  # fmt: skip
        PrometheusProvider(f"{served.url}/not-prometheus").check()
    set_weight(served, 0)


PII_VALUES = [
    "maria.lopez7@example.com", "j.smith+orders@mail.example.org", "ops_team@corp-example.net",
    "anna.k@example.co.uk", "x9@sub.domain.example.io",
    "4111 1111 1111 1111", "5500-0000-0000-0004", "4000 1234 1234 1234",  # the last fails Luhn
    "3782 822463 10005", "6011000990139424",
    "+1 202 555 0147", "(415) 555-0132", "+44 20 7946 0958", "202.555.0199",
    "123-45-6789", "234-56-7890", "321-54-9876",
    "sk-live-abcdefghijklmnopqrstuvwx", "AKIAQWERTYUIOPASDFGH",
    "ghp_" + "a1B2c3D4e5F6g7H8i9J0" * 2,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
]  # fmt: skip


def _digits(value: str) -> bytes | None:
    """A mostly numeric value's bare digits: found whatever separators a writer used."""
    digits = "".join(c for c in value if c.isdigit())
    return digits.encode() if len(digits) >= 9 and len(digits) >= len(value) * 0.6 else None


def _leaks(data: bytes, values: list[str]) -> list[str]:
    data = data.lower()
    bare = re.sub(rb"[ .()+\-]", b"", data)
    leaked = []
    for value in values:
        digits = _digits(value)
        if value.lower().encode() in data or (digits is not None and digits in bare):
            leaked.append(value)
    return leaked


def _hits(roots: list[Path], values: list[str]) -> list[str]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and path.stat().st_size <= 256 * 2**20:
                found += [f"{path}: {v}" for v in _leaks(path.read_bytes(), values)]
    return found


def test_pii_and_the_api_token_sent_through_eval_and_serving_are_written_nowhere(
    served, prometheus, registry, raygate_home, tmp_path
):
    import ray

    from raygate.evaluation.pipeline import PipelineOptions
    from raygate.evaluation.runner import evaluate
    from raygate.telemetry.pii import find_pii

    assert len(set(PII_VALUES)) >= 20 and all(find_pii(f"x {v} y") for v in PII_VALUES)
    queries = [f"I am {v}, what is the return window for Kitchen products?" for v in PII_VALUES]
    gold = tmp_path / "pii.jsonl"
    gold.write_text("".join(
        json.dumps({"id": f"p-{i}", "query": q, "expected": ["60 days"], "category": "pii"}) + "\n"
        for i, q in enumerate(queries)
    ))  # fmt: skip
    evaluate(f"models:/{served.model_name}@champion", gold, registry, PipelineOptions(workers=1))

    set_weight(served, 50)
    for query, value in zip(queries, PII_VALUES, strict=True):
        body = {"query": query, "user_id": value, "session_id": value, "request_id": value}
        assert served.predict(body).status_code == 200
        chat = {"model": served.model_name, "user": value,
                "messages": [{"role": "user", "content": query}]}  # fmt: skip
        answer = requests.post(f"{served.url}/v1/chat/completions", json=chat,
                               headers=served.headers, timeout=30)  # fmt: skip
        assert answer.status_code == 200, answer.text
    set_weight(served, 0)

    metrics_port = ray._private.worker.global_worker.node.metrics_export_port
    time.sleep(12)  # spans and metrics leave their processes every few seconds
    exported = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30).content
    assert _leaks(exported, PII_VALUES) == []
    session = Path(ray._private.worker._global_node.get_session_dir_path())
    written = [raygate_home, session / "logs"]
    assert list((raygate_home / "telemetry" / "records").glob("requests-*.jsonl"))
    assert list((raygate_home / "telemetry" / "traces").glob("spans-*.jsonl"))
    assert _hits(written, PII_VALUES) == []
    # The bearer token went with every request: no log, record, trace or MLflow file has it.
    assert _hits(written, [TOKEN]) == []


HELLO_APP = """
from ray import serve

@serve.deployment(ray_actor_options={"num_cpus": 0.1})
class Hello:
    def __call__(self, request):
        return "hello from another app"

app = Hello.bind()
"""


def test_serve_up_and_down_leave_the_cluster_s_other_applications_running(served, tmp_path):
    """A cluster that serves more than raygate: Serve's own deploy deletes every application
    its config does not name; raygate's up (and down) keep the others."""
    from raygate.serving.control import APP_IMPORT_PATH
    from tests.integration.conftest import wait_for

    (tmp_path / "hello_app.py").write_text(HELLO_APP)
    control = served.control
    details = control.details()
    http = {"http_options": details["http_options"]}
    ours = next(a["deployed_app_config"] for a in details["applications"].values()
                if a["deployed_app_config"]["import_path"] == APP_IMPORT_PATH)  # fmt: skip
    other = {"name": "other", "route_prefix": "/other", "import_path": "hello_app:app",
             "runtime_env": {"working_dir": f"local://{tmp_path}"}}  # fmt: skip
    control._deploy({**http, "applications": [ours, other]})

    def answered() -> bool:
        return requests.get(f"{served.url}/other", timeout=10).text == "hello from another app"

    try:
        wait_for(answered, 120, "the other application")
        control.wait_applied(control.up({**http, "applications": [ours]}), timeout_s=120)
        assert answered()
        assert set(control.details()["applications"]) == {ours["name"], "other"}
    finally:
        control._deploy({**http, "applications": [ours]})
