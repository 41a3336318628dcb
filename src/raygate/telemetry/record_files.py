"""Finding requests in the per-request record files: the newest or the slowest, the failed
ones, of one variant or model, since a time; each names the trace `raygate trace show` draws."""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raygate.constants import FAILED_FINISH_REASONS


@dataclass(frozen=True)
class RecordFilter:
    """Which records match: every field left None (or False) matches all."""

    variant: str | None = None
    model: str | None = None  # a name matches all its versions; name@version one
    failed: bool = False
    since_ts: float | None = None
    run_id: str | None = None  # an eval's MLflow run

    def matches(self, record: dict[str, Any]) -> bool:
        if self.variant is not None and record.get("variant") != self.variant:
            return False
        if self.run_id is not None and record.get("run_id") != self.run_id:
            return False
        if self.model is not None and not _same_model(record.get("model_id"), self.model):
            return False
        if self.failed and not failed(record):
            return False
        return self.since_ts is None or (record.get("ts") or 0) >= self.since_ts


@dataclass
class Found:
    """The records picked, how many matched, and lines that could not be read."""

    records: list[dict[str, Any]]
    matched: int = 0
    unreadable: list[str] = field(default_factory=list)  # "path:line"


def failed(record: dict[str, Any]) -> bool:
    """A request that did not get a real answer: an HTTP error, a failed finish, an error."""
    return (
        (record.get("status") or 0) >= 400
        or record.get("finish_reason") in FAILED_FINISH_REASONS
        or bool(record.get("error"))
    )


def find_records(folder: Path, where: RecordFilter, limit: int, slowest: bool = False) -> Found:
    """The `limit` newest matching records (or the slowest by latency), newest or slowest
    first; files last written before `where.since_ts` are not read."""
    found = Found(records=[])

    def matching() -> Iterator[dict[str, Any]]:
        for record in _records(folder, where.since_ts, found.unreadable):
            if where.matches(record):
                found.matched += 1
                yield record

    key = _latency if slowest else (lambda r: r.get("ts") or 0.0)
    found.records = heapq.nlargest(limit, matching(), key=key)
    return found


def _records(folder: Path, since_ts: float | None, unreadable: list[str]) -> Iterator[dict]:
    for path in sorted(folder.glob("*.jsonl")):
        if since_ts is not None and path.stat().st_mtime < since_ts:
            continue  # its last line was written before the window
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    record = json.loads(line)
                except ValueError:
                    if line.strip():  # a line cut by a writer that died mid-write
                        unreadable.append(f"{path}:{number}")
                    continue
                if isinstance(record, dict):
                    yield record


def _latency(record: dict[str, Any]) -> float:
    value = record.get("latency_ms")
    return value if isinstance(value, int | float) else -math.inf  # unmeasured: last


def _same_model(model_id: str | None, wanted: str) -> bool:
    if model_id is None:
        return False
    return model_id == wanted if "@" in wanted else model_id.split("@", 1)[0] == wanted
