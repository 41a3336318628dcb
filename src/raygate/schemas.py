"""The stable predict() schema: pydantic models for input and output rows, parsed at the edge."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from raygate.constants import INPUT_OPTIONAL_FIELDS, INPUT_QUERY
from raygate.errors import InputError, RaygateError

ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictModel(BaseModel):
    """A boundary model: unknown fields are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# A str holding half of a UTF-16 surrogate pair: what a JSON escape without its pair ("\\ud800")
# decodes to in Python. It is no text: encoding it (a record, a trace, a hash, a model's client)
# raises.
LONE_SURROGATE = "lone_surrogate"


def lone_surrogate_at(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where in parsed JSON a string (a value or a key) holds a lone surrogate, or None."""
    if isinstance(value, str):
        return None if value.isascii() or _encodes(value) else path
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and not _encodes(key):
                return (*path, key)
            found = lone_surrogate_at(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = lone_surrogate_at(item, (*path, i))
            if found is not None:
                return found
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ApiRequest(BaseModel):
    """An HTTP request body: each of its strings must be text that can be encoded."""

    @model_validator(mode="before")
    @classmethod
    def _encodable_text(cls, data: Any) -> Any:
        where = lone_surrogate_at(data)
        if where is None:
            return data
        field = ".".join(map(str, where)) or "body"
        raise PydanticCustomError(
            LONE_SURROGATE,
            "field '{param}' is not valid Unicode: it holds half of a UTF-16 surrogate pair (a "
            "JSON escape such as \\ud800 without its partner); send the text as UTF-8, or "
            "escape both halves of a pair (\\ud83d\\ude00)",
            {"param": field},
        )


class PredictInput(StrictModel):
    """One request row, as a caller sends it."""

    query: str = Field(min_length=1, description="The user's question or instruction.")
    request_id: str | None = Field(None, description="Caller's id for this request; echoed back.")
    user_id: str | None = Field(None, description="Stable user id (sticky routing, rate limits).")
    session_id: str | None = Field(None, description="Conversation id; groups turns of one user.")
    relevant_ids: list[str] | None = Field(
        None, description="Gold document ids, when known; the answer then reports hit_at_k."
    )
    traceparent: str | None = Field(
        None, description="W3C trace context of the caller; the answer's spans continue it."
    )


# The request field holding a model's other inputs by name (see PredictRequest); the OpenAI
# endpoints take it too, as the openai SDK sends it: `extra_body={"inputs": {…}}`.
INPUTS_FIELD = "inputs"
INPUTS_HELP = (
    'The model\'s other inputs by name, e.g. {"context": "…"} for a pyfunc that also takes a '
    "context, as a gold row's metadata fills them in eval; names its signature does not take "
    "are not sent (raygate's own agent takes none). A chat or agent flavor (MLflow's ChatAgent, "
    "ResponsesAgent, ChatModel) gets them all as its custom_inputs."
)


class PredictRequest(PredictInput, ApiRequest):
    """POST /v1/predict: one request row and, for a user's pyfunc that takes more than the
    query, its other inputs."""

    inputs: dict[str, Any] | None = Field(None, description=INPUTS_HELP)


def parse_request_rows(rows: Sequence[Mapping[str, Any]]) -> list[PredictInput]:
    """Request rows validated against the predict() schema, their other `inputs` left out."""
    return parse_predict_input([{k: v for k, v in r.items() if k != INPUTS_FIELD} for r in rows])


class PredictOutput(StrictModel):
    """One answer row. Field names and types are a contract: add fields, never remove or retype."""

    request_id: str = Field(description="The caller's request_id, or a generated one.")
    answer: str = Field(description="The answer text shown to the user.")
    citations: list[str] = Field(description="Ids of the documents the answer is drawn from.")
    retrieved_ids: list[str] = Field(description="Ids of the documents retrieved, best first.")
    retriever_k: int = Field(description="How many documents retrieval was asked for.")
    context_ids: list[str] = Field(
        description="Ids of the retrieved documents that fit the prompt's context budget."
    )
    hit_at_k: float | None = Field(
        description="1.0 if a relevant document was retrieved; None without relevant_ids."
    )
    context_precision: float | None = Field(
        description="Ragas context precision@k of retrieved_ids; None without relevant_ids."
    )
    context_use_rate: float | None = Field(
        description="Share of the answer's content words found in its context; None when "
        "the answer claims nothing (empty, abstained, refused)."
    )
    refused: bool = Field(description="True when the agent declined to answer on purpose.")
    safety_flags: list[str] = Field(description="Every safety decision taken on this request.")
    tokens_in: int | None = Field(
        description="Prompt tokens read by the generator; None if unknown."
    )
    tokens_out: int | None = Field(description="Tokens produced by the generator; None if unknown.")
    tokens_cached: int | None = Field(
        description="Prompt tokens served from cache; None if unknown."
    )
    cost_usd: float | None = Field(description="Cost of this request in USD; None if unknown.")
    latency_ms_total: float = Field(description="Wall time spent answering this row, in ms.")
    latency_ms_llm: float | None = Field(
        None, description="Of latency_ms_total, the time spent in the generator, in ms."
    )
    model_id: str = Field(description="The model that answered, as name@version.")
    prompt_id: str = Field(description="The prompt template used, as id@version.")
    trace_id: str = Field(description="Trace id of this request (32 hex digits).")
    finish_reason: str = Field(
        description="How the request ended: answer, abstain, refused, rate_limited, error, or a "
        "loop limit (max_steps, step_timeout, deadline, loop_detected)."
    )
    steps: int = Field(description="Generator turns taken (0 when refused or limited).")
    tool_calls: list[str] = Field(
        description="The tools the agent called, in order, as name(JSON arguments)."
    )
    fallback: str | None = Field(description="Fallback generator used, and why; None if none.")
    error: str | None = Field(description="Why this row failed, or None when it succeeded.")


INPUT_FIELDS = (INPUT_QUERY, *INPUT_OPTIONAL_FIELDS)
OUTPUT_FIELDS = tuple(PredictOutput.model_fields)


def describe_validation_error(exc: ValidationError) -> str:
    """The first error of a pydantic ValidationError as "field 'a.b': message (got ...)"."""
    return describe_error(exc.errors()[0])


def describe_error(first: Mapping[str, Any]) -> str:
    """One error dict of pydantic's `.errors()` as a sentence that names the field; the
    offending value is shown (cut to 80 characters) unless it is missing or extra."""
    if first["type"] == "json_invalid":
        reason = first.get("ctx", {}).get("error", "parse error")
        if "surrogate" in reason or "end of hex escape" in reason:  # how jiter words "\ud800"
            reason += (": half of a UTF-16 surrogate pair; write the character as UTF-8 or "
                       "escape both halves, e.g. \\ud83d\\ude00")  # fmt: skip
        return f"not valid JSON ({reason})"
    if not first["loc"]:
        if first["type"] == "value_error":  # a model-level rule: its own message says it all
            return str(first.get("ctx", {}).get("error", first["msg"]))
        return f"{first['msg'].lower()} (got {type(first['input']).__name__})"
    field = ".".join(str(p) for p in first["loc"])
    got = ""
    rule_of_a_section = first["type"] == "value_error" and isinstance(first.get("input"), dict)
    if first["type"] not in ("missing", "extra_forbidden") and not rule_of_a_section:
        got = f" (got {repr(first.get('input'))[:80]})"
    hint = {"extra_forbidden": "; remove it or check its spelling", "missing": ""}.get(
        first["type"], ""
    )
    message = first["msg"]
    if first["type"] == "value_error":  # a field's own rule: its words, without "Value error, "
        message = str(first.get("ctx", {}).get("error", message))
    return f"field '{field}': {message}{got}{hint}"


def load_yaml_model(
    path: str | Path, model: type[ModelT], error: type[RaygateError], missing_hint: str
) -> ModelT:
    """Read a YAML file into `model`; every problem is one `error` naming the file (and line)."""
    raw = read_yaml(path, error, missing_hint)
    if raw is None:
        raw = {}  # an empty file means all defaults; required fields are then named as missing
    if not isinstance(raw, dict):
        raise error(f"{path}:1: expected a mapping of settings, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        line = yaml_line(Path(path).read_text(encoding="utf-8"), first["loc"])
        raise error(f"{path}:{line}: {describe_error(first)}") from None


def yaml_line(text: str, loc: Sequence[int | str]) -> int:
    """The 1-based line of the YAML node at `loc` (a pydantic error location): the deepest
    node that exists, so a missing field points at the mapping that lacks it."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return 1
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    child = key if isinstance(value, yaml.ScalarNode) else value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if 0 <= part < len(node.value) else None
            line = child.start_mark.line + 1 if child is not None else line
        if child is None:
            break
        node = child
    return line


def read_yaml(path: str | Path, error: type[RaygateError], missing_hint: str) -> Any:
    """A YAML file's content; a missing file or bad YAML is one `error` (with the line)."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path} does not exist; {missing_hint}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise error(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def validate_mapping(
    raw: object, model: type[ModelT], error: type[RaygateError], where: str
) -> ModelT:
    """Validate a mapping into `model`; a problem is one `error` starting with `where`."""
    if not isinstance(raw, dict):
        raise error(f"{where}: expected a mapping of settings, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise error(f"{where}: {describe_validation_error(exc)}") from None


def parse_predict_input(data: pd.DataFrame | Sequence[Mapping[str, Any]]) -> list[PredictInput]:
    """Validate a DataFrame or a list of dicts into request rows, or raise one clear InputError."""
    if isinstance(data, pd.DataFrame):
        _check_columns(list(data.columns))
        records = data.to_dict(orient="records")
    elif isinstance(data, Sequence) and not isinstance(data, str | bytes):
        records = list(data)
    else:
        raise InputError(
            f"predict() takes a pandas DataFrame or a list of dicts, not {type(data).__name__}; "
            f"pass e.g. [{{'query': 'What is the return window?'}}]"
        )
    return [_parse_row(i, record) for i, record in enumerate(records)]


def _check_columns(columns: list[Any]) -> None:
    if INPUT_QUERY not in columns:
        present = ", ".join(map(str, columns)) or "none"
        raise InputError(
            f"input has no '{INPUT_QUERY}' column (columns: {present}); "
            f"name the column holding the question '{INPUT_QUERY}'"
        )
    unknown = [str(c) for c in columns if c not in INPUT_FIELDS]
    if unknown:
        raise InputError(
            f"input has unknown column(s) {', '.join(unknown)}; allowed: {', '.join(INPUT_FIELDS)}"
        )


def _parse_row(index: int, record: Any) -> PredictInput:
    if not isinstance(record, Mapping):
        raise InputError(
            f"input row {index} is a {type(record).__name__}, not a dict; "
            f"send {{'{INPUT_QUERY}': '...'}} per row"
        )
    cleaned = {k: (None if _is_missing(v) else v) for k, v in record.items()}
    try:
        return PredictInput.model_validate(cleaned)
    except ValidationError as exc:
        raise InputError(
            f"input row {index}: {describe_validation_error(exc)}; each row needs a non-empty "
            f"'{INPUT_QUERY}' string (optional: {', '.join(INPUT_OPTIONAL_FIELDS)})"
        ) from None


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
