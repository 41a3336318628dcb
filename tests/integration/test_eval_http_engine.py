import json
from http.server import BaseHTTPRequestHandler

import pytest

from raygate.evaluation.engines import LlmEngineOptions
from raygate.evaluation.pipeline import PipelineOptions
from raygate.evaluation.runner import evaluate
from raygate.testing import http_server, send_json


class ChatCompletions(BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible endpoint that always abstains and reports usage."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert body["messages"][0]["role"] == "system"
        if self.headers.get("Authorization") == "Bearer wrong":
            return send_json(self, 401, {"error": {"message": "Incorrect API key provided"}})
        if "HTML" in body["messages"][1]["content"]:  # a proxy's page in place of an answer
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(b"<html>no</html>")))
            self.end_headers()
            return self.wfile.write(b"<html>no</html>")
        if "LONG" in body["messages"][1]["content"]:
            return send_json(
                self, 400, {"object": "error", "message": "maximum context length is 8"}
            )
        reply = {
            "choices": [{"message": {"role": "assistant", "content": "I don't know."}}],
            "usage": {
                "prompt_tokens": len(body["messages"][1]["content"].split()),
                "completion_tokens": 3,
            },
        }
        send_json(self, 200, reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    with http_server(ChatCompletions) as url:
        yield f"{url}/v1/chat/completions"


def test_http_engine_evaluates_an_openai_compatible_endpoint(
    local_ray, registry, tiny_gold, endpoint
):
    engine = LlmEngineOptions(kind="http", model="stub", url=endpoint, batch_size=4)
    result = evaluate("stub-llm", tiny_gold, registry, PipelineOptions(), engine=engine)
    values = result.metrics.values
    assert result.model_id == "stub-llm" and values["rows"] == 12
    assert values["abstention_accuracy"] == 1.0 and values["tokens_out_per_request"] == 3
    assert values["tokens_in_per_request"] > 0 and "cost_usd_per_request" in result.metrics.missing


def _gold(folder, *queries: str):
    rows = [{"id": f"q{i}", "query": query, "expected": ["x"]} for i, query in enumerate(queries)]
    (folder / "gold.jsonl").write_text("\n".join(json.dumps(row) for row in rows))
    return folder / "gold.jsonl"


def test_a_gold_query_the_endpoint_refuses_is_a_failed_row_not_a_crash(
    local_ray, registry, tmp_path, endpoint
):
    gold = _gold(tmp_path, "short", "a LONG one", "short too")
    engine = LlmEngineOptions(kind="http", model="stub", url=endpoint, batch_size=4)
    result = evaluate("stub-llm", gold, registry, PipelineOptions(), engine=engine)
    assert result.metrics.values["rows"] == 3
    assert result.metrics.values["error_rate"] == pytest.approx(1 / 3)


def test_an_answer_that_is_not_json_stops_the_eval_with_what_the_endpoint_sent(
    local_ray, registry, tmp_path, endpoint
):
    import mlflow

    from raygate.errors import EvaluationError

    gold = _gold(tmp_path, "short", "an HTML page")
    engine = LlmEngineOptions(kind="http", model="stub", url=endpoint, batch_size=4)
    with pytest.raises(EvaluationError, match=r"stopped: ContentTypeError: .*text/html"):
        evaluate("stub-llm", gold, registry, PipelineOptions(), engine=engine)
    assert mlflow.search_runs(search_all_experiments=True)["status"].iloc[0] == "FAILED"


def test_an_endpoint_that_is_down_or_refuses_the_token_is_one_clear_error_before_any_run(
    registry, tiny_gold, endpoint, monkeypatch
):
    import mlflow

    from raygate.errors import ConfigError
    from raygate.testing.ports import free_port

    monkeypatch.setenv("STUB_LLM_KEY", "wrong")
    refused = LlmEngineOptions(kind="http", model="stub", url=endpoint, api_key_env="STUB_LLM_KEY")
    down = LlmEngineOptions(kind="http", model="stub",
                            url=f"http://127.0.0.1:{free_port()}/v1/chat/completions")  # fmt: skip
    runs = len(mlflow.search_runs(search_all_experiments=True))
    with pytest.raises(ConfigError, match=r"answered HTTP 401: Incorrect API key.*\$STUB_LLM_KEY"):
        evaluate("stub-llm", tiny_gold, registry, PipelineOptions(), engine=refused)
    with pytest.raises(ConfigError, match=r"did not answer \(ConnectionError\): start it"):
        evaluate("stub-llm", tiny_gold, registry, PipelineOptions(), engine=down)
    assert len(mlflow.search_runs(search_all_experiments=True)) == runs  # nothing was logged


def test_a_vllm_engine_no_node_has_the_gpus_for_is_refused_before_any_run(
    local_ray, registry, tiny_gold
):
    import mlflow

    from raygate.errors import ClusterError

    engine = LlmEngineOptions(kind="vllm", model="/models/some-llm",
                              engine_kwargs={"tensor_parallel_size": 64})  # fmt: skip
    runs = len(mlflow.search_runs(search_all_experiments=True))
    with pytest.raises(ClusterError, match=r"vLLM engine replica asks for 0 CPU and 64 GPU"):
        evaluate("some-llm", tiny_gold, registry, PipelineOptions(), engine=engine)
    assert len(mlflow.search_runs(search_all_experiments=True)) == runs
