"""Normalize any pyfunc's output into raygate's prediction fields; unknown figures stay None."""

from __future__ import annotations

from typing import Any

from raygate.errors import ModelOutputError
from raygate.packaging.outputs import prediction_records

# Fields an evaluation reads from a prediction; a model that reports none of them but
# `answer` (or a bare string) is still evaluated, with the rest reported as missing.
PREDICTION_FIELDS = (
    "answer", "citations", "retrieved_ids", "refused", "safety_flags", "tokens_in",
    "tokens_out", "cost_usd", "latency_ms_total", "context_use_rate", "error",
    # carried into the request records: a model without them leaves them null
    "trace_id", "finish_reason", "model_id", "prompt_id", "tokens_cached", "latency_ms_llm",
    "retriever_k", "hit_at_k", "context_precision",
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
