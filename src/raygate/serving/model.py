"""One model deployment (champion or canary): loads a pyfunc by registry alias, pinned to the
version it resolves to, predicts batches, and swaps versions without dropping a request."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from opentelemetry.trace import StatusCode
from ray import serve

from raygate.errors import ConfigError, RaygateError
from raygate.packaging.conversation import user_turn
from raygate.packaging.loading import LoadedAgent, load_agent, resolve_model_uri
from raygate.packaging.outputs import prediction_records, raised_error, schema_mismatch
from raygate.packaging.row_isolation import ask_each_alone
from raygate.registry.mlflow_registry import MlflowRegistry
from raygate.schemas import validate_mapping
from raygate.serving import replica_versions
from raygate.serving.call_watch import CallWatch
from raygate.serving.settings import VariantSettings
from raygate.telemetry import semconv
from raygate.telemetry.tracing import (
    configure_tracing,
    parent_context,
    rows_traced,
    trace_id_of,
    tracer,
)
from raygate.tracking import mute_model_tracing

logger = logging.getLogger("ray.serve")


@serve.deployment(max_ongoing_requests=64)
class ModelVariant:
    """Serves one variant; `reconfigure` (the user_config) decides which model version."""

    def __init__(self, variant: str) -> None:
        self._variant = variant
        self._loaded: LoadedAgent | None = None
        self._settings: VariantSettings | None = None
        self._load_error: str | None = None
        self._swap = asyncio.Lock()
        self._calls = CallWatch()
        configure_tracing(f"raygate-{variant}")

    def check_health(self) -> None:
        """Serve's health check: a replica whose model is stuck fails it, and Serve replaces
        the replica (a stuck call's thread cannot be stopped; its process can). A stuck call
        holding what every call needs would otherwise fail every request after it."""
        if self._settings is None:
            return
        if (stuck := self._calls.stuck(self._settings.stuck_after_s)) is not None:
            logger.error("%s replica is unhealthy, Serve replaces it: %s", self._variant, stuck)
            raise RuntimeError(stuck)

    def _watched(self, answer: Callable[..., Any], *args: Any) -> Any:
        """answer(*args) on the calling thread, counted by the health check while it runs."""
        with self._calls.call():
            return answer(*args)

    async def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Load the model the settings name; on failure keep serving the current one.

        The new version loads in a worker thread while this replica keeps answering with
        the old one, then replaces it in one assignment: a version change drops nothing.
        """
        where = f"deployment '{self._variant}' user_config"
        settings = validate_mapping(user_config, VariantSettings, ConfigError, where)
        self.predict.set_max_batch_size(settings.max_batch_size)
        self.predict.set_batch_wait_timeout_s(settings.batch_wait_timeout_s)
        async with self._swap:
            self._settings = settings
            try:
                await asyncio.to_thread(self._load_if_changed, settings)
                self._load_error = None
                # The loaded model, MLflow and pandas are ~10⁵–10⁶ long-lived objects: out
                # of the collector's sight, a full collection no longer walks them all.
                gc.freeze()
            except RaygateError as exc:
                if self._loaded is None:
                    raise  # nothing to fall back to: the replica fails and Serve reports it
                self._load_error = str(exc)
                logger.error("%s keeps serving %s: %s", self._variant, self.model_id, exc)
            finally:
                if self._loaded is not None:
                    self._publish(user_config.get("change_id"))

    def _publish(self, change_id: str | None) -> None:
        """What this replica serves, for `raygate serve status`; never fails a reconfigure."""
        try:
            replica_versions.publish(self.info() | {"change_id": change_id})
        except Exception as exc:  # outside Serve, or the GCS is briefly unreachable
            logger.warning("could not publish %s's replica version: %s", self._variant, exc)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # Serve is shutting the replica down
            replica_versions.forget()

    def _load_if_changed(self, settings: VariantSettings) -> None:
        registry = MlflowRegistry()
        version = resolve_model_uri(settings.model_uri, registry)  # alias → a fixed version
        current = self._loaded.version if self._loaded else None
        if version and current and version.model_id == current.model_id:
            self._loaded = self._loaded.with_input_map(settings.input_map, request_inputs=True)
            return
        uri = version.uri if version else settings.model_uri
        self._loaded = load_agent(uri, registry, settings.input_map, request_inputs=True)
        mute_model_tracing()

    @property
    def model_id(self) -> str:
        if self._loaded is None or self._loaded.version is None:
            return f"{self._settings.model_uri if self._settings else '?'}"
        return self._loaded.version.model_id

    def info(self) -> dict[str, Any]:
        """What this replica serves, for /v1/models, /readyz and `raygate serve status`."""
        return {
            "variant": self._variant,
            "model_id": self.model_id,
            "model_uri": self._settings.model_uri if self._settings else None,
            "revision": self._settings.revision if self._settings else None,
            "loaded": self._loaded is not None,
            "load_error": self._load_error,
            "streams": bool(self._loaded and self._loaded.streams),
            "interface": self._loaded.interface if self._loaded else None,
        }

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.002)
    async def predict(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Answer validated request rows together; each answer names this variant's model."""
        loaded, model_id = self._loaded, self.model_id
        spans = [self._span(model_id, parent_context(row.pop("traceparent", None))) for row in rows]
        conversations = [_conversation(row) for row in rows]
        try:
            with rows_traced(spans):  # to_thread copies the context: the model sees them
                records = await asyncio.to_thread(
                    self._watched, _answer_whole, loaded, rows, conversations
                )
        except Exception as exc:  # the model's own code raised: each row says so (a 502)
            records = [_raised(exc) for _ in rows]
        except BaseException:  # cancelled: the callers are gone
            for span in spans:
                span.set_status(StatusCode.ERROR, "cancelled")
                span.end()
            raise
        for span, record in zip(spans, records, strict=True):
            if record.get("finish_reason") == "error":
                span.set_status(StatusCode.ERROR, "the model raised")
            span.set_attribute(semconv.FINISH_REASON, str(record.get("finish_reason")))
            record["trace_id"] = record.get("trace_id") or trace_id_of(span)
            span.end()
        return [{**record, "model_id": model_id} for record in records]

    def _span(self, model_id: str, parent):
        """This replica's span of one request, child of the router's."""
        attributes = {semconv.VARIANT: self._variant, semconv.MODEL_ID: model_id}
        return tracer().start_span(f"predict {self._variant}", parent, attributes=attributes)

    async def predict_stream(self, row: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """One request as events: `start` (who answers), `delta` text pieces as the model
        yields them, then `final` (the prediction row; for a model that cannot stream, the
        whole answer). The caller going away stops the model at its next piece."""
        loaded, model_id = self._loaded, self.model_id
        parent = parent_context(row.pop("traceparent", None))
        span = self._span(model_id, parent)
        trace_id = trace_id_of(span, parent)
        conversation = _conversation(row)
        yield {"start": {"model_id": model_id, "trace_id": trace_id}}
        try:
            if not loaded.streams:
                try:
                    with rows_traced([span]):
                        (record,) = await asyncio.to_thread(
                            self._watched, _answer_whole, loaded, [row], [conversation]
                        )
                except Exception as exc:
                    record = _raised(exc)
                if record.get("finish_reason") == "error":
                    span.set_status(StatusCode.ERROR, "the model raised")
                yield {"final": {"trace_id": trace_id, **record, "model_id": model_id}}
                return
            if (invalid := _unfilled_failure(loaded, row)) is not None:
                yield {"final": {"trace_id": trace_id, **invalid, "model_id": model_id}}
                return
            if loaded.interface == "query":
                pieces = functools.partial(loaded.predict_stream, row)
            else:
                pieces = functools.partial(loaded.converse_stream, conversation, row)
            async for event in _pieces(pieces, span, trace_id, self._calls):
                if "final" in event:
                    event = {"final": {**event["final"], "model_id": model_id}}
                yield event
        finally:
            span.end()


def _raised(exc: Exception) -> dict[str, Any]:
    """The prediction row of a request whose model raised: a failure naming the exception;
    inputs MLflow refused as not fitting the signature are the caller's 422, not the model's
    failure."""
    if said := schema_mismatch(exc):
        error = f"{said}; send each input in the type the model's signature names"
        return {"answer": "", "error": error, "finish_reason": "invalid_request"}
    return {"answer": "", "error": raised_error(exc), "finish_reason": "error"}


def _answer_whole(
    loaded, rows: list[dict[str, Any]], conversations: list[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Each row's whole answer: query models predict the rows in one batch (a batch the model
    raises on is asked again row by row, so one bad request fails only itself, not the
    requests batched with it), a chat or agent flavor answers one conversation per call."""
    if loaded.interface != "query":
        return [_answer_or_failure(loaded.converse, conversation, row)
                for row, conversation in zip(rows, conversations, strict=True)]  # fmt: skip
    invalid = [_unfilled_failure(loaded, row) for row in rows]
    asked = [row for row, failure in zip(rows, invalid, strict=True) if failure is None]
    answers = iter(_predict_rows(loaded, asked) if asked else ())
    return [failure or next(answers) for failure in invalid]


def _predict_rows(loaded, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    try:
        return loaded.predict_records(rows)
    except Exception as exc:
        ask = functools.partial(_predict_one, loaded)
        return ask_each_alone(rows, ask, _raised, _raised(exc))


def _unfilled_failure(loaded, row: dict[str, Any]) -> dict[str, Any] | None:
    """The failure of a request that leaves a required input of the model empty (a 422:
    the caller's mistake, never sent to the model); None when it fills them all."""
    missing = loaded.unfilled(row)
    if not missing:
        return None
    example = ", ".join(f'"{name}": …' for name in missing)
    error = (
        f"the model needs {', '.join(missing)}, which this request leaves empty; send "
        f"{'it' if len(missing) == 1 else 'them'} in the request's inputs "
        f'({{"inputs": {{{example}}}}}; the openai SDK: extra_body={{"inputs": {{…}}}})'
    )
    return {"answer": "", "error": error, "finish_reason": "invalid_request"}


def _predict_one(loaded, row: dict[str, Any]) -> dict[str, Any]:
    return loaded.predict_records([row])[0]


def _answer_or_failure(
    converse, conversation: list[dict[str, Any]], row: dict[str, Any]
) -> dict[str, Any]:
    try:
        return converse(conversation, row)
    except Exception as exc:
        return _raised(exc)


def _conversation(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation the router sent (taken out of the row), or the query as one turn."""
    return row.pop("messages", None) or user_turn(row["query"])


async def _pieces(
    pieces: Callable[[], Iterator[str | dict[str, Any]]], span, trace_id: str, calls: CallWatch
) -> AsyncIterator[dict[str, Any]]:
    """The model's text pieces made in a thread (each counted as progress by `calls`),
    handed over through a queue; the output row (a dict, last) becomes the final event's
    record."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()

    def produce() -> None:
        try:
            with rows_traced([span]), calls.call():
                for piece in pieces():
                    calls.progressed()
                    if stop.is_set():
                        return  # leaving the loop closes the model's generator
                    kind = "end" if isinstance(piece, dict) else "delta"
                    loop.call_soon_threadsafe(queue.put_nowait, (kind, piece))
            ended = "the model's stream ended without its output row"  # read only if so
            loop.call_soon_threadsafe(queue.put_nowait, ("error", ended))
        except Exception as exc:  # the model's own failure: reported as the request's
            loop.call_soon_threadsafe(queue.put_nowait, ("error", f"{type(exc).__name__}: {exc}"))

    loop.run_in_executor(None, produce)
    try:
        while True:
            kind, value = await queue.get()
            if kind == "delta":
                yield {"delta": value}
                continue
            if kind == "end":  # the output row
                yield {"final": {**prediction_records([value])[0], "trace_id": trace_id}}
            else:
                failed = {"finish_reason": "error", "error": value, "tokens_in": None,
                          "tokens_out": None, "cost_usd": None}  # fmt: skip
                yield {"final": {**failed, "trace_id": trace_id}}
            return
    finally:
        stop.set()  # the caller went away, or the answer is complete
