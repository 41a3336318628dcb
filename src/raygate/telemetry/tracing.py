"""One OpenTelemetry trace per request: the process's tracer provider, its exporters (a JSONL
file by default, console, OTLP, in-memory for tests) and W3C `traceparent` in and out.

Code that makes spans only calls `tracer()`; the host process (a Serve replica, an eval
worker, the CLI) calls `configure_tracing()` once. Without it every span is a no-op, so a
pyfunc loaded anywhere else costs nothing and writes nothing.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from raygate.constants import ENV_MLFLOW_TRACING
from raygate.errors import ConfigError
from raygate.telemetry.paths import telemetry_dir

ENV_TRACES = "RAYGATE_TRACES"
# FastAPI's own OpenTelemetry (spans, metrics and logs into any global provider a host set up)
# stays off in raygate's apps: raygate traces each request itself, redacted, and FastAPI's
# logs of validation failures would carry the request's content.
FASTAPI_TELEMETRY_OFF = {"tracing": False, "metrics": False, "logs": False,
                         "operation_spans": False}  # fmt: skip
EXPORTERS = ("jsonl", "console", "otlp", "none")
# Where spans go and which are kept, as raygate hands them to replicas and eval actors
# (OTEL_EXPORTER_OTLP_HEADERS is not among them: it carries a collector's credentials).
EXPORT_SETTINGS = (
    ENV_TRACES, "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", ENV_MLFLOW_TRACING,
)  # fmt: skip
TRACES_FOLDER = "traces"
_COMPACT = (",", ":")

_lock = threading.Lock()
_provider: TracerProvider | None = None
_tracer: trace.Tracer = trace.NoOpTracer()  # get_tracer() is costly: made once per provider
_exporters: set[str] = set()
_propagator = TraceContextTextMapPropagator()
# In-process hand-over of a batch's per-row parents from a Serve replica to the pyfunc it
# calls: cheaper than a traceparent column, which MLflow would validate on every call.
_row_parents: ContextVar[tuple[Context, ...] | None] = ContextVar(
    "raygate_row_parents", default=None
)


class JsonlSpanExporter(SpanExporter):
    """Appends one JSON object per finished span to `<dir>/spans-YYYYMMDD.jsonl`; a batch is
    one append, so processes sharing the file never interleave lines."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        lines = "".join(
            json.dumps(span_record(s), separators=_COMPACT, default=str) + "\n" for s in spans
        )
        day = datetime.now(UTC).strftime("%Y%m%d")
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(
                self._folder / f"spans-{day}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT
            )
            try:
                os.write(fd, lines.encode("utf-8"))
            finally:
                os.close(fd)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """A finished span as the JSON object the JSONL exporter writes and `trace show` reads."""
    context, parent = span.get_span_context(), span.parent
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_span_id": format(parent.span_id, "016x") if parent else None,
        "name": span.name,
        "service": span.resource.attributes.get("service.name"),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }


def _processor(kind: str) -> SpanProcessor:
    if kind == "jsonl":
        return BatchSpanProcessor(JsonlSpanExporter(telemetry_dir() / TRACES_FOLDER))
    if kind == "console":
        return SimpleSpanProcessor(ConsoleSpanExporter())
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ConfigError(
            f"{ENV_TRACES}=otlp needs the OTLP exporter: pip install 'raygate[otlp]' "
            "(endpoint from OTEL_EXPORTER_OTLP_ENDPOINT)"
        ) from None
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = os.environ.get(name, "").strip()
        if protocol and protocol != "http/protobuf":
            raise ConfigError(
                f"{name}={protocol!r}: raygate sends OTLP over HTTP (http/protobuf); unset it "
                "and point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's HTTP port (4318)"
            )
    return BatchSpanProcessor(OTLPSpanExporter())


def _ensure_provider(service: str) -> TracerProvider:
    global _provider, _tracer
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({"service.name": service}))
        _tracer = _provider.get_tracer("raygate")
    return _provider


def export_settings() -> dict[str, str]:
    """This process's EXPORT_SETTINGS that are set: what the processes it starts elsewhere
    (Serve replicas, eval actors on a cluster started by `ray start`) should trace with."""
    return {name: os.environ[name] for name in EXPORT_SETTINGS if os.environ.get(name)}


def configure_tracing(service: str = "raygate", exporter: str | None = None) -> None:
    """Export this process's spans with `exporter` (default: $RAYGATE_TRACES or jsonl; several
    comma-separated, `jsonl,otlp`); calling it again adds nothing twice; `none` leaves spans as
    no-ops."""
    kinds = exporter_kinds(exporter or os.environ.get(ENV_TRACES) or "jsonl")
    with _lock:
        for kind in kinds:
            if kind not in _exporters:
                _ensure_provider(service).add_span_processor(_processor(kind))
                _exporters.add(kind)


def exporter_kinds(text: str) -> list[str]:
    """The exporters a RAYGATE_TRACES value names (`none`: no exporter)."""
    kinds = [kind.strip().lower() for kind in text.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in EXPORTERS]
    if unknown or not kinds:
        raise ConfigError(
            f"{ENV_TRACES}={text!r} is not an exporter; use one or more of jsonl, console, "
            "otlp (comma-separated: jsonl,otlp), or none"
        )
    if "none" in kinds and len(kinds) > 1:
        raise ConfigError(f"{ENV_TRACES}={text!r}: `none` turns tracing off; give it alone")
    return [kind for kind in kinds if kind != "none"]


def capture_spans() -> InMemorySpanExporter:
    """Tests: also keep this process's finished spans in memory, and return them."""
    memory = InMemorySpanExporter()
    with _lock:
        _ensure_provider("raygate").add_span_processor(SimpleSpanProcessor(memory))
    return memory


def flush() -> None:
    """Export every finished span now (before a process exits or a test reads the files)."""
    if _provider is not None:
        _provider.force_flush()


def tracer() -> trace.Tracer:
    """raygate's tracer: real once configured, a no-op before."""
    return _tracer


def set_known(span: trace.Span, figures: dict[str, Any]) -> None:
    """Set the figures that are known; an unknown one (None) is left off, never set to 0."""
    if span.is_recording():
        span.set_attributes({k: v for k, v in figures.items() if v is not None})


def traceparent(span: trace.Span | None = None) -> str | None:
    """The W3C traceparent of `span` (default: the current one); None when it is not sampled."""
    carrier: dict[str, str] = {}
    context = trace.set_span_in_context(span) if span is not None else None
    _propagator.inject(carrier, context=context)
    return carrier.get("traceparent")


def parent_context(header: str | None) -> Context | None:
    """The context a `traceparent` header continues; None for a missing or malformed one."""
    if not header:
        return None
    context = _propagator.extract({"traceparent": header})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


@contextmanager
def rows_traced(spans: Sequence[trace.Span]) -> Iterator[None]:
    """Within: a model predicting these rows (in order) parents row i's spans on spans[i];
    a batch of one also makes its span current, so any OpenTelemetry-instrumented pyfunc
    continues the trace."""
    token = _row_parents.set(tuple(trace.set_span_in_context(s) for s in spans))
    try:
        if len(spans) == 1:
            with trace.use_span(spans[0], end_on_exit=False):
                yield
        else:
            yield
    finally:
        _row_parents.reset(token)


def row_parents(count: int) -> tuple[Context, ...] | None:
    """The parents rows_traced() handed over, if they are for `count` rows."""
    parents = _row_parents.get()
    return parents if parents is not None and len(parents) == count else None


def trace_id_of(span: trace.Span, parent: Context | None = None) -> str:
    """The span's trace id as 32 hex digits; with tracing off here, the caller's (from
    `parent`), else a fresh random id."""
    for context in (span.get_span_context(), trace.get_current_span(parent).get_span_context()):
        if context.is_valid:
            return format(context.trace_id, "032x")
    return uuid.uuid4().hex
