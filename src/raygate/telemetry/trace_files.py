"""Reading traces back from the JSONL exporter's files: one trace's spans as a waterfall
(depth, offset and duration per span, parents before children)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raygate.errors import InputError

MIN_PREFIX = 8
_LEAD = '{"trace_id":"'  # how the JSONL exporter starts each line


@dataclass(frozen=True)
class WaterfallRow:
    """One span placed in its trace: how deep, when it started and how long it took (ms)."""

    name: str
    service: str | None
    depth: int
    start_ms: float
    duration_ms: float
    status: str
    attributes: dict[str, Any]


def read_trace(folder: Path, trace_id: str) -> list[dict[str, Any]]:
    """Every span of the trace whose id is or starts with `trace_id` (8+ hex digits)."""
    wanted = trace_id.strip().lower()
    if len(wanted) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in wanted):
        raise InputError(
            f"trace id {trace_id!r} is not hex or is shorter than {MIN_PREFIX} digits; pass the "
            "32-digit id from an answer's trace_id (or x-raygate-trace-id header)"
        )
    if not any(folder.glob("spans-*.jsonl")):
        raise InputError(
            f"no trace files in {folder}; traces are written there when RAYGATE_TRACES has "
            "jsonl (the default; jsonl,otlp also sends them to a collector) — or pass --dir"
        )
    found = _scan(folder, lambda tid: tid.startswith(wanted), wanted[:MIN_PREFIX])
    if not found:
        raise InputError(f"no spans of trace {trace_id} in {folder}")
    if len(found) > 1:
        raise InputError(f"{trace_id} matches {len(found)} traces; give more digits")
    return next(iter(found.values()))


def read_traces(folder: Path, trace_ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The spans of each of these traces found in the folder's files (missing ids are left
    out: spans written on another machine, or not yet exported)."""
    return _scan(folder, trace_ids.__contains__, None)


def _scan(folder: Path, wanted, hint: str | None) -> dict[str, list[dict[str, Any]]]:
    spans: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("spans-*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if hint is not None and hint not in line:
                    continue  # cheap pre-filters before parsing
                if line.startswith(_LEAD) and not wanted(line[len(_LEAD) : len(_LEAD) + 32]):
                    continue
                try:
                    span = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{number}: not a span record ({exc.msg})") from None
                if wanted(span["trace_id"]):
                    spans.setdefault(span["trace_id"], []).append(span)
    return spans


def waterfall(spans: list[dict[str, Any]]) -> list[WaterfallRow]:
    """Spans depth-first from the root(s), children in start order; a span whose parent is
    not in the files (another service's, or still unexported) is shown as a root."""
    known = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        parent = span["parent_span_id"] if span["parent_span_id"] in known else None
        children.setdefault(parent, []).append(span)
    origin = min(s["start_ns"] for s in spans)
    rows: list[WaterfallRow] = []

    def visit(span: dict[str, Any], depth: int) -> None:
        rows.append(
            WaterfallRow(
                name=span["name"],
                service=span.get("service"),
                depth=depth,
                start_ms=(span["start_ns"] - origin) / 1e6,
                duration_ms=(span["end_ns"] - span["start_ns"]) / 1e6,
                status=span.get("status", "UNSET"),
                attributes=span.get("attributes") or {},
            )
        )
        for child in sorted(children.get(span["span_id"], []), key=lambda s: s["start_ns"]):
            visit(child, depth + 1)

    for root in sorted(children.get(None, []), key=lambda s: s["start_ns"]):
        visit(root, 0)
    return rows
