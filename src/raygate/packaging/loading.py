"""Load a logged agent by URI; `models:/NAME@ALIAS` resolves to a concrete version first."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc import ChatAgent, ChatModel, PythonModel, ResponsesAgent

from raygate.errors import ModelLoadError, UnknownVersionError
from raygate.packaging.conversation import (
    Interface,
    conversation_request,
    interface_of,
    user_turn,
)
from raygate.packaging.inputs import (
    InputShape,
    SignatureInput,
    effective_input_map,
    input_shape,
    list_typed_query,
    shaped,
    signature_inputs,
    unfilled_inputs,
)
from raygate.packaging.outputs import conversation_record, prediction_records, raised_error
from raygate.packaging.pricing import logged_prices, priced
from raygate.packaging.pyfunc import MODEL_ID_KEY, AgentPyfunc
from raygate.packaging.streaming import StreamReader, final_record
from raygate.registry.protocol import ModelRegistry, ModelVersion
from raygate.schemas import INPUTS_FIELD, PredictInput, parse_predict_input, parse_request_rows

TRACE_FIELD = "traceparent"
# The predict_stream methods MLflow's base classes define only to raise.
_INHERITED_STREAMS = tuple(
    base.predict_stream for base in (PythonModel, ChatModel, ChatAgent, ResponsesAgent)
)
_REGISTRY_URI = re.compile(
    r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+|latest))$"
)


@dataclass
class LoadedAgent:
    """A loaded pyfunc, the version it resolved to when it came from the registry, and which
    request field fills each model input whose name differs (see raygate.packaging.inputs)."""

    model: Any
    version: ModelVersion | None
    input_map: dict[str, str] = field(default_factory=dict)

    def predict(self, rows: pd.DataFrame | Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """Validate rows against the predict() schema, then predict in one batch."""
        requests = [self._model_request(row) for row in self._validated(rows)]
        if self.input_shape != "columns":  # a type-hinted model: its typed list
            return self.model.predict(shaped(requests, self.input_shape))
        # every row names every column (None, not pandas' NaN, where a row's inputs lack one)
        names = dict.fromkeys(name for request in requests for name in request)
        frame = pd.DataFrame([{name: r.get(name) for name in names} for r in requests])
        return self.model.predict(frame.dropna(axis="columns", how="all"))

    @staticmethod
    def _validated(rows: pd.DataFrame | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Request rows validated against the predict() schema, each with its set fields over
        its other `inputs` (see PredictRequest)."""
        if isinstance(rows, pd.DataFrame):
            return [r.model_dump() for r in parse_predict_input(rows)]
        others = [row.get(INPUTS_FIELD) or {} for row in rows]
        validated = [r.model_dump() for r in parse_request_rows(rows)]
        return [fields | {name: value for name, value in other.items() if fields.get(name) is None}
                for fields, other in zip(validated, others, strict=True)]  # fmt: skip

    def unfilled(self, row: Mapping[str, Any]) -> list[str]:
        """What this request row would have to send (a field or `inputs` entry: the input map
        names it) for the model's required inputs it leaves empty; none for raygate's agent or
        a chat or agent flavor."""
        if self.interface != "query" or self.reference_agent is not None:
            return []
        given = {**(row.get(INPUTS_FIELD) or {}), **row}
        present = [name for name, value in given.items() if value is not None]
        missing = unfilled_inputs(self.accepted_inputs, self.input_map, present)
        return [self.input_map.get(name, name) for name in missing]

    def _model_request(self, row: dict[str, Any]) -> dict[str, Any]:
        """A request row as the model takes it: inputs named otherwise filled through the
        input map, and only the inputs its signature names (e.g. no traceparent)."""
        row = row | {name: row[source] for name, source in self.input_map.items() if source in row}
        if self.input_names is None:
            return row
        return {key: value for key, value in row.items() if key in self.input_names}

    def with_input_map(
        self, input_map: Mapping[str, str], request_inputs: bool = False
    ) -> LoadedAgent:
        """The same model asked through another input map (checked against its signature)."""
        return replace(self, input_map=checked_input_map(self.model, input_map, request_inputs))

    def predict_records(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """predict() as one JSON-ready record per row; raygate's own agent is called
        directly (no DataFrame round trip, no second schema pass: the rows are validated).
        A chat or agent flavor gets each row's query as a one-turn conversation. A row
        without its own cost is priced by what the model was logged with (each its share
        of the batch's time, for compute per hour)."""
        if self.interface != "query":
            return [self.converse(user_turn(r.query), row)
                    for r, row in zip(parse_request_rows(rows), rows, strict=True)]  # fmt: skip
        if self.reference_agent is None:
            started = time.perf_counter()
            records = prediction_records(self.predict(rows))
            share_s = (time.perf_counter() - started) / max(len(records), 1)
            return [self.priced(record, share_s) for record in records]
        return [o.model_dump() for o in self.reference_agent.predict(parse_request_rows(rows))]

    @cached_property
    def prices(self) -> dict[str, float] | None:
        """What the model was logged as costing (see raygate.packaging.pricing); None: the
        rows' own cost_usd, or none."""
        return logged_prices(self.model.metadata.metadata)

    def priced(self, record: dict[str, Any], compute_s: float | None) -> dict[str, Any]:
        """The record, with its cost_usd from the model's logged prices where it has none."""
        return priced(record, self.prices, compute_s)

    @cached_property
    def reference_agent(self) -> Any:
        """raygate's own agent inside the pyfunc, called directly: MLflow's per-call schema
        enforcement and DataFrame conversions cost more than the agent itself on a light
        generator, and parse_predict_input has validated the rows. None for other models."""
        try:
            python_model = self.model.unwrap_python_model()
        except Exception:  # not a PythonModel-based pyfunc (another flavor)
            return None
        return python_model.agent if isinstance(python_model, AgentPyfunc) else None

    @cached_property
    def accepted_inputs(self) -> list[SignatureInput] | None:
        """The inputs the model's signature names (read once); None without a signature."""
        return signature_inputs(self.model.metadata.signature)

    @cached_property
    def input_names(self) -> frozenset[str] | None:
        """The names of accepted_inputs; None without a signature."""
        accepted = self.accepted_inputs
        return frozenset(a.name for a in accepted) if accepted is not None else None

    @cached_property
    def input_shape(self) -> InputShape:
        """How predict() takes the rows: named columns, or a type-hinted model's list."""
        return input_shape(self.model.metadata.signature)

    @cached_property
    def interface(self) -> Interface:
        """How the model is asked: query rows, or a conversation (chat and agent flavors)."""
        return interface_of(self.accepted_inputs)

    def converse(
        self, messages: list[dict[str, Any]], row: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A chat or agent flavor's answer to a whole conversation, as a prediction record (a
        type-hinted model typed `list[Request]` gets a list of one, and answers as any); `row`,
        the request row it came with, gives its custom_inputs and context (see
        conversation_request)."""
        request = conversation_request(self.interface, messages, row, self.input_names or ())
        started = time.perf_counter()
        if self.input_shape == "objects":
            record = prediction_records(self.model.predict([request]))[0]
        else:
            record = conversation_record(self.model.predict(request))
        return self.priced(record, time.perf_counter() - started)

    def converse_stream(
        self, messages: list[dict[str, Any]], row: Mapping[str, Any] | None = None
    ) -> Iterator[str | dict[str, Any]]:
        """The same, as text pieces while the model streams."""
        request = conversation_request(self.interface, messages, row, self.input_names or ())
        if self.input_shape == "objects":  # MLflow hands a typed model's stream one element
            return self._priced_stream(self.model.predict_stream([request]))
        return self._priced_stream(self.model.predict_stream(request))

    @cached_property
    def streams(self) -> bool:
        """Whether the model streams: a pyfunc whose predict_stream is its own (a PythonModel,
        ChatModel, ChatAgent or ResponsesAgent that defines it; MLflow marks the last three
        streamable even when they only inherit a predict_stream that raises)."""
        if getattr(self.model, "_predict_stream_fn", None) is None:
            return False
        for unwrap in ("unwrap_python_model", "get_raw_model"):  # PythonModel; chat/agent
            try:
                python_model = getattr(self.model, unwrap)()
            except Exception:
                continue
            return getattr(type(python_model), "predict_stream", None) not in _INHERITED_STREAMS
        return True  # another flavor that says it streams

    def predict_stream(self, row: Mapping[str, Any]) -> Iterator[str | dict[str, Any]]:
        """One validated request row's answer as text pieces, as the model yields them (and
        its output row last, from a raygate agent)."""
        (validated,) = self._validated([row])
        given = {k: v for k, v in validated.items() if k != TRACE_FIELD and v is not None}
        request = self._model_request(given)
        if self.input_shape != "columns":  # a type-hinted model: its typed list
            request = shaped([request], self.input_shape)
        return self._priced_stream(self.model.predict_stream(request))

    def _priced_stream(self, chunks: Iterator[Any]) -> Iterator[str | dict[str, Any]]:
        """_texts of the model's stream, its output row priced at the end."""
        started = time.perf_counter()
        return (
            self.priced(piece, time.perf_counter() - started) if isinstance(piece, dict) else piece
            for piece in _texts(chunks)
        )


def _texts(chunks: Iterator[Any]) -> Iterator[str | dict[str, Any]]:
    """The text of each chunk that carries some, then an output row (a dict): the one
    raygate's agent sends as its final chunk, or else the one the chunks said."""
    reader, agent_final = StreamReader(), False
    for chunk in chunks:
        record = final_record(chunk)
        if record is not None:
            agent_final = True
            yield record
            continue
        text = reader.text(chunk)
        if text:
            yield text
    if not agent_final:
        yield reader.record()


def registry_name(model_uri: str) -> str | None:
    """NAME of a `models:/NAME@ALIAS` or `models:/NAME/VERSION` (or `/latest`) URI; None for
    other URIs."""
    match = _REGISTRY_URI.match(model_uri)
    return match["name"] if match else None


def resolve_model_uri(model_uri: str, registry: ModelRegistry) -> ModelVersion | None:
    """The registry version a `models:/NAME@ALIAS`, `models:/NAME/VERSION` or
    `models:/NAME/latest` (its highest version, as MLflow reads it) URI names."""
    match = _REGISTRY_URI.match(model_uri)
    if match is None:
        return None
    if match["alias"]:
        return registry.resolve(match["name"], match["alias"])
    if match["version"] == "latest":
        versions = registry.list_versions(match["name"])
        if not versions:
            raise UnknownVersionError(f"model '{match['name']}' has no versions yet")
        return versions[-1]
    return registry.get_version(match["name"], int(match["version"]))


_URI_HELP = "pass models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/agent or a model folder"
_MAP_HELP = (
    "map each to a request field ({fields}): `--input-map question=query` on the command line, "
    "`input_map: {{question: query}}` in a served variant's user_config"
)


def model_info(model_uri: str):
    """The logged model's metadata (signature, run id) without loading it."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.models.get_model_info(model_uri)
    except (MlflowException, OSError) as exc:
        message = getattr(exc, "message", str(exc))
        help_ = _registered_name_help(model_uri) or _URI_HELP
        raise ModelLoadError(f"cannot read model {model_uri}: {message}; {help_}") from None
    except Exception as exc:  # a URI no artifact store of MLflow's can read (http://…)
        raise ModelLoadError(
            f"cannot read model {model_uri}: {raised_error(exc)}; {_URI_HELP}"
        ) from None


def _registered_name_help(model_uri: str) -> str | None:
    """What to pass instead of a bare registered model name, which MLflow reads as a folder."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if ":" in model_uri or "/" in model_uri or Path(model_uri).exists():
        return None
    try:
        MlflowClient().get_registered_model(model_uri)
    except MlflowException:
        return None
    return (
        f"'{model_uri}' is a registered model: pass models:/{model_uri}@ALIAS, "
        f"models:/{model_uri}/VERSION or models:/{model_uri}/latest"
    )


def checked_input_map(
    model: Any, input_map: Mapping[str, str] | None = None, request_inputs: bool = False
) -> dict[str, str]:
    """The input map a loaded pyfunc is asked through: the caller's over the default (a lone
    text input gets the query); refused, naming the inputs, when a required input is left
    that no request field fills, unless each request may send it in its `inputs` (serving).
    Chat and agent flavors take the conversation: no map."""
    accepted = signature_inputs(model.metadata.signature)
    if interface_of(accepted) != "query":
        return {}
    mapping = effective_input_map(accepted, input_map or {})
    fills = {a.name: mapping.get(a.name, a.name) for a in accepted or ()}
    listed = list_typed_query(accepted, fills)
    if listed:
        raise ModelLoadError(listed)
    fields = sorted(PredictInput.model_fields)
    missing = unfilled_inputs(accepted, mapping, fields)
    if missing and not request_inputs:
        raise ModelLoadError(
            f"the model requires input(s) {', '.join(missing)} that no request field fills; "
            + _MAP_HELP.format(fields=", ".join(fields))
        )
    return mapping


def model_id_config(info, version: ModelVersion | None) -> dict[str, str] | None:
    """The model_config that tells a raygate pyfunc its registered name@version; None for a
    pyfunc that takes no model_config (MLflow would warn that it was ignored)."""
    accepted = (info.flavors.get("python_function") or {}).get("config") or {}  # MLmodel
    return {MODEL_ID_KEY: version.model_id} if version and MODEL_ID_KEY in accepted else None


def load_pyfunc(uri: str, model_config: dict[str, str] | None, shown_as: str | None = None):
    """mlflow.pyfunc.load_model, or a ModelLoadError saying why: a URI MLflow cannot read, or
    the model's own loading code (its load_context, its imports) raising."""
    import mlflow
    from mlflow.exceptions import MlflowException

    shown = shown_as or uri
    try:
        return mlflow.pyfunc.load_model(uri, model_config=model_config)
    except (MlflowException, OSError) as exc:
        message = getattr(exc, "message", str(exc))
        raise ModelLoadError(f"cannot load model {shown}: {message}; {_URI_HELP}") from None
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load model {shown}: its loading code raised {raised_error(exc)}"
        ) from None


def load_agent(
    model_uri: str,
    registry: ModelRegistry,
    input_map: Mapping[str, str] | None = None,
    request_inputs: bool = False,
) -> LoadedAgent:
    """Load by URI; registry URIs are pinned to a version and report model_id name@version.
    `input_map` ({INPUT: FIELD}) fills model inputs named otherwise than the request's fields;
    with `request_inputs`, a required input may come in each request's `inputs` instead."""
    version = resolve_model_uri(model_uri, registry)
    uri = version.uri if version else model_uri
    model = load_pyfunc(uri, model_id_config(model_info(uri), version), model_uri)
    loaded = LoadedAgent(
        model=model, version=version,
        input_map=checked_input_map(model, input_map, request_inputs),
    )  # fmt: skip
    _ = loaded.prices  # logged prices that do not validate are a load error, not a row's
    return loaded
