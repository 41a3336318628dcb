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

MAX_TRACES = 500  # larger gold sets attach their first rows only; the JSONL files keep all
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
    under the run; returns (attached, rows with a trace id)."""
    wanted = list(islice((row for row in rows if row.get("trace_id")), MAX_TRACES))
    found = read_traces(telemetry_dir() / TRACES_FOLDER, {row["trace_id"] for row in wanted})
    attached = 0
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
        attached += _copy(roots[0], None, children, root)
    if attached:
        import mlflow

        mlflow.flush_trace_async_logging()
    return attached, len(wanted)


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
