"""Any pyfunc's output as one JSON-ready record per row: what eval and serving both read."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from raygate.errors import ModelOutputError

ERROR_CHARS = 500  # of a raised exception's message kept in a failed row


def raised_error(exc: Exception) -> str:
    """A failed row's `error` when the model's own code raised: the exception, cut short."""
    return f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]


def prediction_records(raw: Any) -> list[dict[str, Any]]:
    """Any pyfunc output as one JSON-ready dict per row (NaN → None, numpy → Python)."""
    return [{key: _clean(value) for key, value in record.items()} for record in _records(raw)]


def _records(raw: Any) -> list[Mapping[str, Any]]:
    if isinstance(raw, pd.DataFrame):
        if "answer" in raw.columns:  # every row has its answer: no per-row reading
            return raw.to_dict(orient="records")
        if len(raw.columns) == 1:
            return [{"answer": _as_text(v)} for v in raw.iloc[:, 0]]
        return [_record(record) for record in raw.to_dict(orient="records")]
    if isinstance(raw, pd.Series | np.ndarray | list | tuple):
        items = [item.model_dump() if hasattr(item, "model_dump") else item for item in raw]
        return [_record(item) if isinstance(item, Mapping) else {"answer": _as_text(item)}
                for item in items]  # fmt: skip
    if isinstance(raw, str):
        return [{"answer": raw}]
    raise ModelOutputError(
        f"the model returned a {type(raw).__name__}; return a DataFrame, a list of strings "
        "or a list of records with an 'answer' field"
    )


def _record(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """An output record (a pydantic model's fields too): one with an `answer`, or one field
    taken as the answer (as a one-column frame is), or its only text field (the others kept
    beside it); anything else is an error naming its fields, not an empty answer."""
    if "answer" in item:
        return dict(item)
    if len(item) == 1:
        return {"answer": _as_text(next(iter(item.values())))}
    texts = [key for key, value in item.items() if isinstance(value, str)]
    if len(texts) == 1:
        return {**item, "answer": item[texts[0]]}
    raise ModelOutputError(
        f"the model's output records have fields {', '.join(map(str, item)) or '(none)'}: no "
        "'answer' and not one text field to take as it; return strings, or records with an "
        "'answer' field"
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
