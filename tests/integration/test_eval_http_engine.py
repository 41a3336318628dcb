import json
from http.server import BaseHTTPRequestHandler

import pytest

from raygate.evaluation.engines import LlmEngineOptions
from raygate.evaluation.pipeline import PipelineOptions
from raygate.evaluation.runner import evaluate
from raygate.testing import http_server


class ChatCompletions(BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible endpoint that always abstains and reports usage."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert body["messages"][0]["role"] == "system"
        reply = {
            "choices": [{"message": {"role": "assistant", "content": "I don't know."}}],
            "usage": {
                "prompt_tokens": len(body["messages"][1]["content"].split()),
                "completion_tokens": 3,
            },
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

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
