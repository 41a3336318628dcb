"""Normalize any pyfunc's output into raygate's prediction fields; unknown figures stay None."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from raygate.errors import ModelOutputError

# Fields an evaluation reads from a prediction; a model that reports none of them but
# `answer` (or a bare string) is still evaluated, with the rest reported as missing.
PREDICTION_FIELDS = (
    "answer", "citations", "retrieved_ids", "refused", "safety_flags", "tokens_in",
    "tokens_out", "cost_usd", "latency_ms_total", "context_use_rate", "error",
)  # fmt: skip


def normalize_predictions(raw: Any, expected_rows: int) -> list[dict[str, Any]]:
    """One dict per input row with every PREDICTION_FIELDS key; raise on a shape mismatch."""
    records = prediction_records(raw)
    if len(records) != expected_rows:
        raise ModelOutputError(
            f"the model returned {len(records)} predictions for {expected_rows} input rows; "
            "predict() must return one output per input row"
        )
    return [{field: record.get(field) for field in PREDICTION_FIELDS} for record in records]


def prediction_records(raw: Any) -> list[dict[str, Any]]:
    """Any pyfunc output as one JSON-ready dict per row (NaN → None, numpy → Python)."""
    return [{key: _clean(value) for key, value in record.items()} for record in _records(raw)]


def _records(raw: Any) -> list[Mapping[str, Any]]:
    if isinstance(raw, pd.DataFrame):
        if "answer" in raw.columns:
            return raw.to_dict(orient="records")
        if len(raw.columns) == 1:
            return [{"answer": _as_text(v)} for v in raw.iloc[:, 0]]
        raise ModelOutputError(
            f"the model's output has columns {', '.join(map(str, raw.columns))} but no 'answer'; "
            "return strings, or records with an 'answer' field"
        )
    if isinstance(raw, pd.Series | np.ndarray | list | tuple):
        return [
            dict(item) if isinstance(item, Mapping) else {"answer": _as_text(item)} for item in raw
        ]
    if isinstance(raw, str):
        return [{"answer": raw}]
    raise ModelOutputError(
        f"the model returned a {type(raw).__name__}; return a DataFrame, a list of strings "
        "or a list of records with an 'answer' field"
    )


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
