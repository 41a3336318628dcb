"""Any pyfunc's output as one JSON-ready record per row: what eval and serving both read."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from raygate.errors import ModelOutputError
from raygate.packaging.conversation import reply_ending, reply_record

ERROR_CHARS = 500  # of a raised exception's message kept in a failed row
# The answer of a record with several text fields and no `answer`, by the names frameworks
# give it (LangChain's agents {input, output}, its messages {content, type, id}, ...), first
# found first.
ANSWER_NAMES = ("output", "output_text", "content", "response", "result", "generated_text",
                "text", "completion")  # fmt: skip


def raised_error(exc: Exception) -> str:
    """A failed row's `error` when the model's own code raised: the exception, cut short
    (MLflow's refusal of inputs that do not fit the signature: its reason, not the data)."""
    return schema_mismatch(exc) or f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]


def schema_mismatch(exc: Exception) -> str | None:
    """Why MLflow refused inputs that do not fit the model's signature (a value of another
    type), without the rows it quotes; None for any other exception."""
    if getattr(exc, "error_class", None) != "SCHEMA_ENFORCEMENT_FAILED":
        return None
    reason = str(exc).rsplit("Error: ", 1)[-1].strip().rstrip(".")
    return f"the inputs do not fit the model's signature: {reason}"[:ERROR_CHARS]


def prediction_records(raw: Any) -> list[dict[str, Any]]:
    """Any pyfunc output as one JSON-ready dict per row (see _clean); an answer the model
    left empty (None, NaN) is the empty text the API's schema promises."""
    records = [{key: _clean(value) for key, value in record.items()} for record in _records(raw)]
    for record in records:
        if record.get("answer") is None:
            record["answer"] = ""
        _count_usage(record)
    return records


def conversation_record(raw: Any) -> dict[str, Any]:
    """A model's answer to one conversation as a prediction record: a chat or agent flavor's
    reply (ChatModel `choices`, ChatAgent `messages`, ResponsesAgent `output`), or what any
    other pyfunc that takes `messages` returns for its one row (a frame, a list, a record)."""
    if hasattr(raw, "model_dump"):
        raw = raw.model_dump()
    if isinstance(raw, str) or (
        isinstance(raw, Mapping)
        and any(isinstance(raw.get(key), list) for key in ("choices", "messages", "output"))
    ):
        return reply_record(raw)
    records = prediction_records(raw)
    if len(records) != 1:
        raise ModelOutputError(
            f"the model answered one conversation with {len(records)} rows; return one answer "
            "(a string or a record) for it"
        )
    return records[0]


def _count_usage(record: dict[str, Any]) -> None:
    """Token counts from an OpenAI-style `usage` ({prompt,completion}_tokens or
    {input,output}_tokens; LangChain's `usage_metadata`) where the record does not give them
    itself."""
    usage = record.get("usage", record.get("usage_metadata"))
    if isinstance(usage, dict):
        for field, count in reply_ending({"usage": usage}).items():
            if record.get(field) is None:
                record[field] = count


def _records(raw: Any) -> list[Mapping[str, Any]]:
    if isinstance(raw, Mapping):  # columns of equal length (a frame as a dict), or one record
        columns = [v for v in raw.values() if isinstance(v, pd.Series | np.ndarray | list)]
        if raw and len(columns) == len(raw) and len({len(c) for c in columns}) == 1:
            raw = pd.DataFrame({key: list(value) for key, value in raw.items()})
        else:
            return [_record(raw)]
    if isinstance(raw, np.ndarray) and raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]  # one answer column
    if isinstance(raw, pd.DataFrame):
        if "answer" in raw.columns:  # every row has its answer: no per-row reading
            return raw.to_dict(orient="records")
        if len(raw.columns) == 1:
            return [{"answer": _as_text(v)} for v in raw.iloc[:, 0]]
        return [_record(record) for record in raw.to_dict(orient="records")]
    if isinstance(raw, pd.Series | np.ndarray | list | tuple):
        items = [item.model_dump() if hasattr(item, "model_dump") else item for item in raw]
        return [_record(item) if isinstance(item, Mapping) else {"answer": _one_value(item, i)}
                for i, item in enumerate(items)]  # fmt: skip
    if isinstance(raw, str):
        return [{"answer": raw}]
    raise ModelOutputError(
        f"the model returned a {type(raw).__name__}; return a DataFrame, a list of strings "
        "or a list of records with an 'answer' field"
    )


def _one_value(item: Any, row: int) -> str:
    """A row's output that is not a record: its text; a list of one value is that value."""
    if isinstance(item, list | tuple | np.ndarray):
        values = list(np.ravel(item)) if isinstance(item, np.ndarray) else list(item)
        if len(values) != 1:
            raise ModelOutputError(
                f"the model's output for row {row + 1} is a list of {len(values)} values; "
                "return one answer (a string or a record) per row"
            )
        item = values[0]
    return _as_text(item)


def _record(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """An output record (a pydantic model's fields too): one with an `answer`, an OpenAI chat
    completion or response (its text and usage), or one field taken as the answer (as a
    one-column frame is), or its only text field, or of several the one ANSWER_NAMES names
    first (the others kept beside it); anything else is an error naming its fields, not an
    empty answer."""
    if "answer" in item:
        return dict(item)
    if _is_openai_reply(item):  # a pyfunc handing back its OpenAI client's reply as it came
        return reply_record(dict(item))
    if len(item) == 1:
        return {"answer": _as_text(next(iter(item.values())))}
    texts = [key for key, value in item.items() if isinstance(value, str)]
    named = [key for key in ANSWER_NAMES if key in texts]
    if len(texts) == 1 or named:
        return {**item, "answer": item[(named or texts)[0]]}
    raise ModelOutputError(
        f"the model's output records have fields {', '.join(map(str, item)) or '(none)'}: no "
        f"'answer', no text field named {', '.join(ANSWER_NAMES)}, and not one text field to "
        "take as it; return strings, or records with an 'answer' field"
    )


def _is_openai_reply(item: Mapping[str, Any]) -> bool:
    """A chat completion (`choices`) or a Responses API response (`object: response`)."""
    choices, output = item.get("choices"), item.get("output")
    return (isinstance(choices, list) and bool(choices) and isinstance(choices[0], Mapping)) or (
        item.get("object") == "response" and isinstance(output, list)
    )


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)


def _clean(value: Any) -> Any:
    """A value as JSON carries it, however deep: NaN and ±inf (which JSON lacks) → None,
    numpy → Python, dates and times → ISO 8601, bytes → text, anything else → its str."""
    if isinstance(value, np.generic):  # np.float64 is a float too: made plain first
        return _clean(value.item())
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return [_clean(item) for item in value]
    if hasattr(value, "model_dump"):
        return _clean(value.model_dump())
    if value is pd.NaT:
        return None
    if isinstance(value, dt.date | dt.time):  # a pandas Timestamp is a datetime
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
