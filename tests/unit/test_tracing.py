import json

import pytest
from opentelemetry import trace

from raygate.agent.generators import Generation
from raygate.agent.tools import ToolCall
from raygate.config import AgentConfig
from raygate.schemas import PredictInput
from raygate.telemetry import tracing
from raygate.testing import ScriptedGenerator
from tests.unit.test_agent import CONFIG, agent

RERANKED = AgentConfig.model_validate(
    {**CONFIG.model_dump(), "retriever": {**CONFIG.retriever.model_dump(), "rerank": "title_match"}}
)


@pytest.fixture(scope="module")
def spans():
    return tracing.capture_spans()


def _one_request(spans, row: PredictInput):
    spans.clear()
    tool = ToolCall("search_documents", {"query": "kettle warranty"})
    generator = ScriptedGenerator(
        Generation("", (), False, 5, 2, tool_calls=(tool,)),
        Generation("Two years [pol-warranty].", ("pol-warranty",), False, 40, 6),
    )
    (output,) = agent(generator, RERANKED).predict([row])
    finished = spans.get_finished_spans()
    return output, {s.name: s for s in finished}, _edges(finished)


def _edges(finished) -> set[tuple[str, str | None]]:
    """(span, its parent) names: the shape of the tree."""
    names = {s.context.span_id: s.name for s in finished}
    return {(s.name, names.get(s.parent.span_id) if s.parent else None) for s in finished}


def test_one_request_is_one_trace_with_the_genai_span_tree(spans):
    query = "How long is the kettle warranty?"
    output, finished, edges = _one_request(spans, PredictInput(query=query))
    root = finished["invoke_agent t"]
    assert root.parent is None and format(root.context.trace_id, "032x") == output.trace_id
    assert {s.context.trace_id for s in spans.get_finished_spans()} == {root.context.trace_id}
    assert edges == {
        ("invoke_agent t", None),
        ("preproc", "invoke_agent t"),
        ("retrieval bm25", "invoke_agent t"),
        ("rerank", "invoke_agent t"),
        ("chat extractive", "invoke_agent t"),
        ("execute_tool search_documents", "invoke_agent t"),
        ("retrieval bm25", "execute_tool search_documents"),  # the tool searches too
        ("rerank", "execute_tool search_documents"),
        ("postproc", "invoke_agent t"),
        ("safety", "invoke_agent t"),
    }
    chat = finished["chat extractive"]
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.provider.name"] == "extractive"
    assert root.attributes["gen_ai.usage.input_tokens"] == 45
    assert root.attributes["gen_ai.usage.output_tokens"] == 8
    assert root.attributes["raygate.finish_reason"] == "answer"
    tool = finished["execute_tool search_documents"]
    assert tool.attributes["gen_ai.tool.name"] == "search_documents"
    assert finished["retrieval bm25"].attributes["gen_ai.operation.name"] == "retrieval"
    assert 0 < output.latency_ms_llm <= output.latency_ms_total


def test_an_unpriced_model_has_no_cost_attribute_never_zero(spans):
    _, finished, _ = _one_request(spans, PredictInput(query="How long is the kettle warranty?"))
    assert "raygate.cost_usd" not in finished["invoke_agent t"].attributes


def test_a_callers_traceparent_is_continued(spans):
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    output, finished, _ = _one_request(spans, PredictInput(query="kettle", traceparent=caller))
    assert output.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert finished["invoke_agent t"].parent.span_id == 0xB7AD6B7169203331


def test_no_span_carries_the_query_text(spans):
    query = "kettle warranty for maria.lopez7@example.com"
    _one_request(spans, PredictInput(query=query))
    dumped = json.dumps([tracing.span_record(s) for s in spans.get_finished_spans()], default=str)
    assert "maria" not in dumped and "kettle" not in dumped


def test_traceparent_round_trips_and_malformed_headers_start_a_new_trace():
    assert tracing.parent_context(None) is None
    assert tracing.parent_context("00-zzz-bad-01") is None
    context = tracing.parent_context("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    span = trace.get_current_span(context)
    assert tracing.traceparent(span) == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_an_unknown_exporter_is_a_config_error():
    from raygate.errors import ConfigError

    with pytest.raises(ConfigError, match="RAYGATE_TRACES='zipkin' is not an exporter"):
        tracing.configure_tracing(exporter="zipkin")
    with pytest.raises(ConfigError, match=r"'jsonl,zipkin' is not an exporter.*jsonl,otlp"):
        tracing.configure_tracing(exporter="jsonl,zipkin")
    with pytest.raises(ConfigError, match="`none` turns tracing off; give it alone"):
        tracing.configure_tracing(exporter="none,jsonl")
    assert tracing.exporter_kinds(" JSONL , otlp ") == ["jsonl", "otlp"]
    assert tracing.exporter_kinds("none") == []


def test_an_otlp_protocol_other_than_http_protobuf_is_a_config_error(monkeypatch):
    from raygate.errors import ConfigError

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ConfigError, match=r"OTEL_EXPORTER_OTLP_PROTOCOL='grpc'.*port \(4318\)"):
        tracing.configure_tracing(exporter="otlp")


def test_the_jsonl_exporter_appends_one_line_per_span(tmp_path, spans):
    _, finished, _ = _one_request(spans, PredictInput(query="kettle"))
    exporter = tracing.JsonlSpanExporter(tmp_path)
    assert exporter.export(spans.get_finished_spans()).name == "SUCCESS"
    (path,) = tmp_path.glob("spans-*.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert {line["name"] for line in lines} == set(finished)
    assert all(len(line["trace_id"]) == 32 and line["end_ns"] >= line["start_ns"] for line in lines)


def test_otlp_without_its_extra_says_how_to_install_it(monkeypatch):
    import builtins

    from raygate.errors import ConfigError

    real_import = builtins.__import__

    def no_otlp(name, *args, **kwargs):
        if name.startswith("opentelemetry.exporter.otlp"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_otlp)
    with pytest.raises(ConfigError, match=r"pip install 'raygate\[otlp\]'"):
        tracing.configure_tracing(exporter="otlp")


FASTAPI_SPANS = """
import sys
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient

from raygate.serving.router import api
from raygate.webhook_receiver import build_receiver

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)  # a host's global provider (auto-instrumentation, say)
for app in (FastAPI(), api, build_receiver("secret", lambda name, version: "")):
    with TestClient(app) as client:
        assert client.get("/no-such-path").status_code == 404
    print(len(exporter.get_finished_spans()))
    exporter.clear()
"""


def test_fastapi_s_own_telemetry_stays_off_in_raygate_s_apps():
    """raygate's router and webhook receiver make no FastAPI spans, even where the host set a
    global tracer provider (a plain FastAPI app does: the check can fail)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", FASTAPI_SPANS], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "0", "0"]
