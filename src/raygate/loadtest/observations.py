"""A load run's answers as per-request observations in the format `raygate canary replay`
reads: record a canary from the client side, then backtest a rollout policy on it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

COLUMNS = ("finished_at", "variant", "status", "finish_reason", "latency_ms", "tokens_in",
           "tokens_out", "cost_usd", "safety_flags")  # fmt: skip


def write_observations(results: Path, out: Path) -> tuple[int, int]:
    """Write one JSON line per answered request, in time order; requests that no variant
    answered (timeouts, refused connections) cannot be attributed and are skipped.
    Returns (written, skipped)."""
    table = pq.read_table(results, columns=list(COLUMNS))
    columns = {name: table.column(name).to_pylist() for name in COLUMNS}
    order = np.argsort(np.asarray(columns["finished_at"], float), kind="stable")
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as lines:
        for i in order:
            variant, status = columns["variant"][i], columns["status"][i]
            if variant not in ("champion", "canary") or not 100 <= (status or 0) <= 599:
                continue
            finish_reason = columns["finish_reason"][i] or ("error" if status >= 400 else "unknown")
            record = {
                "ts": columns["finished_at"][i],
                "variant": variant,
                "status": status,
                "finish_reason": finish_reason,
                **{k: columns[k][i] for k in ("latency_ms", "tokens_in", "tokens_out",
                                               "cost_usd", "safety_flags")},
            }  # fmt: skip
            lines.write(json.dumps(record) + "\n")
            written += 1
    return written, table.num_rows - written
