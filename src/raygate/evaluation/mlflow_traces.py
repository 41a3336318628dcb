"""Each eval row's trace, as the JSONL exporter wrote it, copied into MLflow's trace store
under the eval run: MLflow's UI then shows the run's traces with the same span tree and
timings. Inputs and outputs are the eval table's redacted query and answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

from raygate.telemetry.paths import telemetry_dir
from raygate.telemetry.trace_files import read_traces
from raygate.telemetry.tracing import TRACES_FOLDER

# More rows attach the first this many (a trace takes MLflow ~60 ms to store on SQLite); the
# JSONL files keep all.
MAX_TRACES = 200
# MLflow queues finished spans (2,048 at most) and drops the oldest when more come than it
# has written: 500 traces copied in one go lost a quarter of them. They are written (flushed)
# whenever this many more have been copied.
FLUSH_EVERY_SPANS = 1024
_SPAN_TYPES = {
    "invoke_agent": "AGENT",
    "chat": "CHAT_MODEL",
    "retrieval": "RETRIEVER",
    "rerank": "RERANKER",
    "execute_tool": "TOOL",
    "safety": "GUARDRAIL",
    "preproc": "PARSER",
    "postproc": "PARSER",
}


def attach_traces(
    rows: Iterable[Mapping[str, Any]], experiment_id: str, run_id: str
) -> tuple[int, int]:
    """Copy the traces of `rows` (eval-table rows with trace_id, query, answer) into MLflow
    under the run; returns (traces MLflow holds for the run, rows with a trace id)."""
    import mlflow

    wanted = list(islice((row for row in rows if row.get("trace_id")), MAX_TRACES))
    found = read_traces(telemetry_dir() / TRACES_FOLDER, {row["trace_id"] for row in wanted})
    copied = pending_spans = 0
    for row in wanted:
        spans = found.get(row["trace_id"])
        roots = [s for s in spans or () if not s["parent_span_id"]]
        if len(roots) != 1:
            continue  # not (fully) on this machine's disk
        children: dict[str, list[dict[str, Any]]] = {}
        for span in spans:
            children.setdefault(span["parent_span_id"], []).append(span)
        root = {
            "experiment_id": experiment_id,
            "metadata": {"mlflow.sourceRun": run_id},  # the run's Traces tab lists it
            "inputs": {"query": row.get("query")},
            "outputs": {"answer": row.get("answer")},
        }
        if pending_spans + len(spans) > FLUSH_EVERY_SPANS:
            mlflow.flush_trace_async_logging()
            pending_spans = 0
        if _copy(roots[0], None, children, root):
            copied += 1
            pending_spans += len(spans)
    if not copied:
        return 0, len(wanted)
    mlflow.flush_trace_async_logging()
    held = mlflow.search_traces(run_id=run_id, include_spans=False, return_type="list")
    return len(held), len(wanted)


def _copy(span, parent, children, root: dict | None = None) -> bool:
    """Recreate `span` and its subtree with their recorded times; `root` holds what only the
    trace's root takes (MLflow refuses an experiment id on a child). False if MLflow would
    not start the span."""
    import mlflow
    from mlflow.entities.span import NoOpSpan

    live = mlflow.start_span_no_context(
        span["name"],
        span_type=_SPAN_TYPES.get(span["name"].split(" ", 1)[0], "UNKNOWN"),
        parent_span=parent,
        attributes={k: v for k, v in span["attributes"].items() if v is not None},
        start_time_ns=span["start_ns"],
        **({k: root[k] for k in ("experiment_id", "metadata", "inputs")} if root else {}),
    )
    if isinstance(live, NoOpSpan):
        return False
    for child in sorted(children.get(span["span_id"], []), key=lambda s: s["start_ns"]):
        _copy(child, live, children)
    status = "ERROR" if span.get("status") == "ERROR" else "OK"
    live.end(outputs=root["outputs"] if root else None, status=status, end_time_ns=span["end_ns"])
    return True
