"""Traces to an OpenTelemetry collector: with RAYGATE_TRACES=jsonl,otlp a request's spans reach
an OTLP/HTTP endpoint through OpenTelemetry's own exporter (received on 127.0.0.1 by a server
that decodes the OTLP protobuf, standing in for a collector: none is packaged here), with the
headers OTEL_EXPORTER_OTLP_HEADERS names, and the same trace stays in the local files that
`raygate trace show` reads; an eval's actors, in Ray workers started without those settings,
export where the eval's driver was told to."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from raygate.testing import http_server
from tests.integration.cli_driver import raygate

SECRET = "collector-secret-7f3a"


@pytest.fixture
def collector() -> Iterator[tuple[str, list]]:
    """An OTLP/HTTP trace receiver: (its URL, what it received as (path, headers, request))."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    received: list = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received.append(
                (self.path, dict(self.headers), ExportTraceServiceRequest.FromString(body))
            )
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    with http_server(Receiver) as url:
        yield url, received


def _spans(received: list) -> tuple[list, set[str]]:
    """The spans received, and the services that sent them."""
    spans, services = [], set()
    for _, _, request in received:
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            services.add(attributes.get("service.name"))
            spans += [s for scope in resource_spans.scope_spans for s in scope.spans]
    return spans, services


def test_a_requests_spans_reach_the_collector_and_the_local_trace_files(
    raygate_home, registry, built_v1, model_name, collector
):
    url, received = collector
    version = registry.register(model_name, built_v1.model_uri, built_v1.tags).version
    registry.set_alias(model_name, "champion", version)
    env = os.environ | {
        "RAYGATE_TRACES": "jsonl,otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": url,
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {SECRET}",
    }
    query = "What is the return window for Kitchen products?"
    done = raygate("predict", f"models:/{model_name}@champion", query, "--json", env=env)
    (prediction,) = json.loads(done.stdout)["predictions"]
    trace_id = prediction["trace_id"]

    assert received, "the collector received nothing"
    assert {path for path, _, _ in received} == {"/v1/traces"}
    assert {headers.get("authorization") for _, headers, _ in received} == {f"Bearer {SECRET}"}
    spans, services = _spans(received)
    assert services == {"raygate-cli"}
    names = {span.name for span in spans if span.trace_id.hex() == trace_id}
    assert {"preproc", "postproc", "safety"} <= names
    assert {name.split()[0] for name in names} >= {"invoke_agent", "retrieval", "chat"}

    shown = json.loads(raygate("trace", "show", trace_id, "--json", env=env).stdout)
    assert {span["name"] for span in shown} == names  # the same trace, both places
    assert SECRET not in done.stdout + done.stderr


def test_an_evals_actors_export_where_its_driver_was_told(
    local_ray, registry, built_v1, tiny_gold, collector, monkeypatch
):
    from raygate.evaluation.pipeline import PipelineOptions
    from raygate.evaluation.runner import evaluate

    url, received = collector
    monkeypatch.setenv("RAYGATE_TRACES", "jsonl,otlp")  # the driver's; Ray's workers lack it
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    evaluate(built_v1.model_uri, tiny_gold, registry, PipelineOptions(workers=1))
    spans, services = _spans(received)
    assert "raygate-eval" in services
    roots = [span for span in spans if span.name.startswith("invoke_agent")]
    assert len(roots) == len(tiny_gold.read_text().splitlines())  # one trace per gold row
