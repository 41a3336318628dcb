"""The ingress: auth, limits and validation, then a sticky weighted choice of champion or
canary, then the OpenAI-compatible or native answer naming who answered."""

import asyncio
import functools
import gc
import math
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel, ConfigDict, Field
from ray import serve
from ray.exceptions import RayActorError, RayTaskError
from ray.serve.exceptions import RayServeException
from ray.serve.handle import DeploymentHandle

from raygate.errors import ConfigError
from raygate.limits import RateLimiter
from raygate.packaging.loading import registry_name
from raygate.schemas import PredictRequest, validate_mapping
from raygate.secrets import secret_sources
from raygate.serving.api_errors import (
    ApiError,
    BodyLimit,
    error_responses,
    install_error_handlers,
)
from raygate.serving.auth import ENV_TOKENS, authenticate, load_tokens
from raygate.serving.completions_api import (
    CompletionEvents,
    CompletionRequest,
    text_completion_body,
)
from raygate.serving.observer import RequestObserver
from raygate.serving.openai_schema import (
    ChatCompletionRequest,
    ChatEvents,
    Served,
    completion_body,
    words,
)
from raygate.serving.outcomes import Failure, failure_of
from raygate.serving.responses_api import ResponseEvents, ResponsesRequest, response_body
from raygate.serving.routing import choose_variant
from raygate.serving.settings import RouterSettings
from raygate.telemetry import semconv
from raygate.telemetry.tracing import (
    FASTAPI_TELEMETRY_OFF,
    configure_tracing,
    parent_context,
    tracer,
)
from raygate.telemetry.tracing import traceparent as traceparent_of

INFO_TTL_S = 5.0
_BODY_LIMIT = {"bytes": RouterSettings().max_body_bytes}  # per replica process

api = FastAPI(
    title="raygate",
    summary="Champion and canary of one registered model, behind auth and rate limits.",
    openapi_url=None,  # served below, behind auth
    docs_url=None,
    redoc_url=None,
    telemetry=FASTAPI_TELEMETRY_OFF,
)
api.add_middleware(BodyLimit, limit=lambda: _BODY_LIMIT["bytes"])
install_error_handlers(api)
bearer = HTTPBearer(auto_error=False, description="An API token from RAYGATE_API_TOKENS.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
TraceParent = Annotated[
    str | None, Header(description="W3C trace context; the request's trace continues it.")
]


class PredictResponse(BaseModel):
    """The model's prediction row plus who answered (other fields depend on the model)."""

    model_config = ConfigDict(extra="allow")

    answer: str = Field(description="The answer text.")
    variant: str = Field(description="champion or canary.")
    model_id: str = Field(description="The model that answered, as name@version.")
    trace_id: str = Field(description="Trace id of the request.")


def _not_served(requested: str, served: list[dict[str, Any]]) -> ApiError:
    """The 404 for a model id this app does not serve, naming those it does."""
    ids = ", ".join(sorted(entry["id"] for entry in served))
    return ApiError(404, f"model '{requested}' is not served here; use one of: {ids}", "model",
                    code="model_not_found")  # fmt: skip


def _headers(served: Served, finish_reason: str | None = None) -> dict[str, str]:
    headers = {
        "x-raygate-variant": served.variant,
        "x-raygate-model-id": served.model_id,
        "x-raygate-trace-id": served.trace_id,
    }
    if finish_reason:
        headers["x-raygate-finish-reason"] = finish_reason
    return headers


def _call_failed(variant: str, exc: Exception) -> tuple[int, ApiError]:
    """A handle call that raised: the variant unreachable (503) or its code failing (502)."""
    if isinstance(exc, RayTaskError):  # the model's own code raised: its fault, said plainly
        cause = exc.cause if isinstance(exc.cause, Exception) else exc
        return 502, ApiError(502, f"the {variant} model failed: {type(cause).__name__}: {cause}")
    message = f"the {variant} model is unavailable: {type(exc).__name__}; retry shortly"
    return 503, ApiError(503, message, headers={"Retry-After": "1"})


def _failure_error(served: Served, failure) -> ApiError:
    """A failed answer as its error response: never a 200."""
    headers = _headers(served, failure.finish_reason)
    if failure.retry_after_s is not None:
        headers["Retry-After"] = str(failure.retry_after_s)
    body = {**served.model_dump(), "finish_reason": failure.finish_reason}
    return ApiError(failure.status, failure.message, headers=headers, served=body)


# Helpers above stay above: Serve pickles the ingress class when it is decorated.
@serve.deployment(max_ongoing_requests=256)
@serve.ingress(api)
class Router:
    """Routes each request to a variant; weights and limits come from its user_config."""

    def __init__(
        self,
        champion: DeploymentHandle | None = None,
        canary: DeploymentHandle | None = None,
        model_name: str = "",
        handle_options: dict[str, Any] | None = None,
    ):
        options = handle_options or {}  # transport and serialization (AppArgs.model_calls)
        self._handles = {
            name: handle.options(**options) if options else handle
            for name, handle in (("champion", champion), ("canary", canary))
            if handle is not None
        }
        self._settings = RouterSettings()
        self._tokens: tuple[str, ...] = ()
        self._limiter: RateLimiter | None = None
        self._rng = random.Random()
        self._infos: list[dict[str, Any]] = []
        self._infos_at = -math.inf
        self._answered_by: dict[str, str] = {}  # variant → the model that last answered on it
        configure_tracing("raygate-router")
        self._observer = RequestObserver(model_name)
        gc.freeze()  # what start-up imported lives forever: full collections skip it

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Apply the split, limits and auth; tokens are re-read, so rotation needs no restart."""
        settings = validate_mapping(
            user_config, RouterSettings, ConfigError, "deployment 'router' user_config"
        )
        tokens = load_tokens()
        if settings.auth and not tokens:
            raise ConfigError(
                f"auth is on but no API token is configured: set {secret_sources(ENV_TOKENS)} "
                "where Ray runs (tokens never travel in Serve's config: `raygate serve up` "
                "passes on only a tokens file's path and a Vault reference from its shell), "
                "or set auth: false for a local trial"
            )
        if settings.rate_limit != self._settings.rate_limit or self._limiter is None:
            limit = settings.rate_limit
            self._limiter = RateLimiter.from_config(limit) if limit else None
        self._settings, self._tokens = settings, tokens
        _BODY_LIMIT["bytes"] = settings.max_body_bytes

    # -- guards ----------------------------------------------------------------------------

    def _admit(self, credentials: HTTPAuthorizationCredentials | None) -> None:
        """401 without a valid token, 429 past the token's rate."""
        caller = "anonymous"
        if self._settings.auth:
            header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
            caller = authenticate(header, self._tokens)
            if caller is None:
                raise ApiError(
                    401,
                    "missing or unknown API token; send 'Authorization: Bearer <token>'",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        if self._limiter is not None:
            wait_s = self._limiter.retry_after_s(caller)
            if wait_s > 0:
                raise ApiError(
                    429,
                    f"rate limit exceeded; retry after {wait_s:.1f} s",
                    headers={"Retry-After": str(math.ceil(wait_s))},
                )

    async def _answer(
        self,
        row: dict[str, Any],
        sticky_key: str | None,
        route: str,
        caller_trace: str | None,
        render: Callable[[dict, Served], dict],
    ) -> JSONResponse:
        """The chosen variant's prediction as `render` shapes it; every outcome is traced,
        recorded and counted as the client gets it."""
        started = time.perf_counter()
        variant = choose_variant(
            sticky_key, self._settings.canary_percent, self._handles, self._rng
        )
        with tracer().start_as_current_span(
            route,
            parent_context(caller_trace),
            kind=SpanKind.SERVER,
            attributes={semconv.VARIANT: variant},
            record_exception=False,
        ) as span:
            observe = functools.partial(self._observe, span, started, variant, row)
            sent = {**row, "traceparent": traceparent_of(span) or caller_trace}
            call = self._handles[variant].predict.remote(sent)
            try:
                prediction = await asyncio.wait_for(call, self._settings.request_timeout_s)
            except (RayServeException, RayActorError, RayTaskError) as exc:
                status, error = _call_failed(variant, exc)
                observe(status, None, "unavailable" if status == 503 else "error")
                raise error from None
            except TimeoutError:
                call.cancel()
                observe(504, None, "deadline")
                raise self._no_answer(variant, span) from None
            except asyncio.CancelledError:  # the client hung up: recorded, not judged
                call.cancel()
                observe(499, None, "cancelled")
                raise
            served = Served(
                variant=variant,
                model_id=prediction.get("model_id") or "unknown",
                trace_id=prediction.get("trace_id") or uuid.uuid4().hex,
            )
            span.set_attribute(semconv.MODEL_ID, served.model_id)
            failure = failure_of(prediction, variant)
            if failure is None:
                headers = _headers(served, prediction.get("finish_reason"))
                try:
                    response = JSONResponse(render(prediction, served), headers=headers)
                except (TypeError, ValueError) as exc:  # rendered before it is counted a 200
                    failure = Failure(502, "error", f"the {variant} model's answer cannot be "
                                      f"sent as JSON: {type(exc).__name__}: {exc}")  # fmt: skip
            observe(failure.status if failure else 200, prediction)
        if failure is not None:  # a failed request is never a 200
            raise _failure_error(served, failure)
        return response

    async def _streamed(
        self,
        row: dict[str, Any],
        sticky_key: str | None,
        caller_trace: str | None,
        route: str,
        make_events: Callable[[Served], Any],
    ) -> StreamingResponse:
        """The chosen variant's answer streamed as it is generated (a model that cannot
        stream sends it whole); failures before the first piece keep their status."""
        started = time.perf_counter()
        variant = choose_variant(
            sticky_key, self._settings.canary_percent, self._handles, self._rng
        )
        span = tracer().start_span(
            route, parent_context(caller_trace), kind=SpanKind.SERVER,
            attributes={semconv.VARIANT: variant},
        )  # fmt: skip

        def observe(status: int, prediction: dict | None, finish_reason: str | None = None):
            self._observe(span, started, variant, row, status, prediction, finish_reason)
            span.end()  # a stream's span lasts as long as the stream

        sent = {**row, "traceparent": traceparent_of(span) or caller_trace}
        events = self._handles[variant].options(stream=True).predict_stream.remote(sent)

        async def opening() -> tuple[dict, dict]:
            return (await events.__anext__())["start"], await events.__anext__()

        try:
            start, first = await asyncio.wait_for(opening(), self._settings.request_timeout_s)
        except (RayServeException, RayActorError, RayTaskError) as exc:
            status, error = _call_failed(variant, exc)
            observe(status, None, "unavailable" if status == 503 else "error")
            raise error from None
        except TimeoutError:
            events.cancel()
            observe(504, None, "deadline")
            raise self._no_answer(variant, span) from None
        except asyncio.CancelledError:  # the client hung up before the first piece
            events.cancel()
            observe(499, None, "cancelled")
            raise
        served = Served(variant=variant, **start)
        failure = failure_of(first["final"], variant) if "final" in first else None
        if failure is not None:
            observe(failure.status, first["final"])
            raise _failure_error(served, failure)
        stream = make_events(served)  # ChatEvents or ResponseEvents

        async def sse() -> AsyncIterator[str]:
            event, prediction, pieces = first, None, []
            try:
                yield stream.start()
                while "final" not in event:
                    pieces.append(event["delta"])
                    yield stream.text(event["delta"])
                    event = await events.__anext__()
                prediction = {**event["final"]}
                if not pieces:  # a model that answers whole: its words at once
                    for word in words(prediction.get("answer") or ""):
                        yield stream.text(word)
                prediction.setdefault("answer", "".join(pieces))
                if failure_of(prediction, variant) is not None:  # after 200 went out
                    message = f"the {variant} model failed mid-answer: {prediction.get('error')}"
                    closing = stream.error(message)
                else:
                    closing = stream.end(prediction)
                for text in closing:
                    yield text
            finally:
                if prediction is None:  # the client went away: stop the model
                    events.cancel()
                    observe(499, None, "cancelled")
                else:
                    failed = failure_of(prediction, variant)
                    observe(failed.status if failed else 200, prediction)

        return StreamingResponse(sse(), media_type="text/event-stream", headers=_headers(served))

    def _no_answer(self, variant: str, span) -> ApiError:
        timeout = self._settings.request_timeout_s
        served = Served(variant=variant, model_id=self._last_model_id(variant) or "unknown",
                        trace_id=format(span.get_span_context().trace_id, "032x"))  # fmt: skip
        message = f"the {variant} model gave no answer in {timeout:g} s (the router's "
        return ApiError(504, message + "request_timeout_s)", code="timeout",
                        headers=_headers(served, "deadline"),
                        served={**served.model_dump(), "finish_reason": "deadline"})  # fmt: skip

    def _last_model_id(self, variant: str) -> str | None:
        """The model that last answered on `variant`, else the one it last said it serves."""
        served = {info["variant"]: info.get("model_id") for info in self._infos}
        return self._answered_by.get(variant) or served.get(variant)

    def _observe(
        self,
        span,
        started: float,
        variant: str,
        row: dict[str, Any],
        status: int,
        prediction: dict | None,
        finish_reason: str | None = None,
    ) -> None:
        """One routed request's outcome: on its span, in its record and in the metrics (one
        that no model answered carries the router's trace and the model last known to serve
        its variant)."""
        span.set_attribute(semconv.HTTP_STATUS, status)
        if status >= 500:
            span.set_status(StatusCode.ERROR)
        if prediction is None:
            trace_id = format(span.get_span_context().trace_id, "032x")
            prediction = {"trace_id": trace_id, "model_id": self._last_model_id(variant)}
        elif prediction.get("model_id"):
            self._answered_by[variant] = prediction["model_id"]
        self._observer.observe(
            variant=variant, status=status, prediction=prediction, row=row,
            latency_ms=(time.perf_counter() - started) * 1000,
            span_id=format(span.get_span_context().span_id, "016x"), finish_reason=finish_reason,
        )  # fmt: skip

    async def _variant_infos(self, fresh: bool = False) -> list[dict[str, Any]]:
        """What each variant serves; cached for INFO_TTL_S unless `fresh` is asked for."""
        if fresh or time.monotonic() - self._infos_at > INFO_TTL_S:
            calls = [handle.info.remote() for handle in self._handles.values()]
            self._infos = list(await asyncio.wait_for(asyncio.gather(*calls), timeout=10))
            self._infos_at = time.monotonic()
        return self._infos

    # -- endpoints -------------------------------------------------------------------------

    # Probes ask with GET or HEAD (uptime monitors, load balancers set to HEAD); each GET is
    # registered first, so that a 405 names GET.
    @api.head("/healthz", include_in_schema=False)
    @api.get("/healthz", tags=["health"])
    @api.head("/health", include_in_schema=False)
    @api.get("/health", tags=["health"])  # what vLLM-style clients probe
    async def healthz(self) -> dict[str, str]:
        """Liveness: the router answers."""
        return {"status": "ok"}

    @api.head("/readyz", include_in_schema=False)
    @api.get("/readyz", tags=["health"], responses={503: {"description": "Not ready."}})
    async def readyz(self) -> JSONResponse:
        """Readiness: every variant has a model loaded."""
        try:
            infos = await self._variant_infos(fresh=True)  # a probe sees a load error now
        except (TimeoutError, RayServeException, RayActorError) as exc:
            return JSONResponse({"status": "unready", "reason": type(exc).__name__}, 503)
        ready = all(info["loaded"] for info in infos)
        body = {"status": "ready" if ready else "unready", "variants": infos}
        return JSONResponse(body, status_code=200 if ready else 503)

    @api.get("/openapi.json", include_in_schema=False)
    async def openapi(self, credentials: Credentials):
        self._admit(credentials)
        return api.openapi()

    @api.get("/v1/models", tags=["openai"], responses=error_responses(401, 429, 503))
    async def models(self, credentials: Credentials) -> dict[str, Any]:
        """The served model name, then each served name@version once, with the variants
        serving it (champion and canary share one right after a promotion) and whether it
        streams."""
        self._admit(credentials)
        return {"object": "list", "data": await self._served_models()}

    @api.get("/v1/models/{model}", tags=["openai"], responses=error_responses(401, 404, 429, 503))
    async def model(self, model: str, credentials: Credentials) -> dict[str, Any]:
        """One entry of GET /v1/models by its id (the served name, or name@version)."""
        self._admit(credentials)
        served = await self._served_models()
        for entry in served:
            if entry["id"] == model:
                return entry
        raise _not_served(model, served)

    async def _served_models(self) -> list[dict[str, Any]]:
        """The served model name, then each served name@version once, with its variants."""
        infos = await self._variant_infos()
        names = {registry_name(i["model_uri"] or "") or i["model_id"] for i in infos}
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "raygate"} for n in names]
        versions: dict[str, dict[str, Any]] = {}
        for info in infos:
            entry = versions.setdefault(info["model_id"], {
                "id": info["model_id"], "object": "model", "created": 0, "owned_by": "raygate",
                "variants": [], "streams": info.get("streams", False),
            })  # fmt: skip
            entry["variants"].append(info["variant"])
        return data + list(versions.values())

    @api.post(
        "/v1/predict",
        response_model=PredictResponse,
        tags=["raygate"],
        responses=error_responses(401, 413, 415, 422, 429, 502, 503, 504),
    )
    async def predict(
        self, body: PredictRequest, credentials: Credentials, traceparent: TraceParent = None
    ) -> JSONResponse:
        """One request row of the stable predict() schema (with a user's pyfunc's other
        inputs in `inputs`); sticky by user_id or session_id."""
        self._admit(credentials)
        row = body.model_dump(exclude_none=True, exclude={"traceparent"})
        return await self._answer(
            row, body.user_id or body.session_id, "POST /v1/predict",
            traceparent or body.traceparent,
            lambda prediction, served: {**prediction, **served.model_dump()},
        )  # fmt: skip

    @api.post(
        "/v1/chat/completions",
        tags=["openai"],
        responses=error_responses(401, 404, 413, 415, 422, 429, 502, 503, 504),
    )
    async def chat_completions(
        self,
        body: ChatCompletionRequest,
        credentials: Credentials,
        traceparent: TraceParent = None,
    ):
        """OpenAI-compatible chat completion (stream: true for server-sent events); chat and
        agent flavors get the whole conversation, query models its last user message."""
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return await self._reply(
            body, credentials, traceparent, "POST /v1/chat/completions",
            functools.partial(ChatEvents, include_usage=include_usage), completion_body,
            "messages",
        )  # fmt: skip

    @api.post(
        "/v1/completions",
        tags=["openai"],
        responses=error_responses(401, 404, 413, 415, 422, 429, 502, 503, 504),
    )
    async def completions(
        self,
        body: CompletionRequest,
        credentials: Credentials,
        traceparent: TraceParent = None,
    ):
        """OpenAI's legacy text completion (stream: true for server-sent events), as load
        tools send it: the prompt is asked as one user turn."""
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return await self._reply(
            body, credentials, traceparent, "POST /v1/completions",
            functools.partial(CompletionEvents, include_usage=include_usage),
            text_completion_body, "prompt",
        )  # fmt: skip

    @api.post(
        "/v1/responses",
        tags=["openai"],
        responses=error_responses(401, 404, 413, 415, 422, 429, 502, 503, 504),
    )
    async def responses(
        self,
        body: ResponsesRequest,
        credentials: Credentials,
        traceparent: TraceParent = None,
    ):
        """OpenAI Responses API, text in and text out (stream: true for server-sent events);
        chat and agent flavors get the whole input, query models its last user message."""
        return await self._reply(
            body, credentials, traceparent, "POST /v1/responses", ResponseEvents, response_body,
            "input",
        )  # fmt: skip

    async def _reply(
        self,
        body: ChatCompletionRequest | CompletionRequest | ResponsesRequest,
        credentials: HTTPAuthorizationCredentials | None,
        caller_trace: str | None,
        route: str,
        events: Callable[[Served], Any],
        render: Callable[[dict, Served], dict],
        param: str,
    ):
        """An OpenAI-style request admitted, its model checked, and its conversation answered
        by the chosen variant, whole or streamed: chat and agent flavors get all of it, query
        models (the agent) its last user message."""
        self._admit(credentials)
        await self._check_model(body.model)
        conversation, user = body.conversation(), body.user
        said = [m["content"] for m in conversation if m["role"] == "user" and m["content"].strip()]
        if not said:
            raise ApiError(422, f"{param}: no user message with text; add one", param)
        row = {"query": said[-1], "user_id": user, "messages": conversation, "inputs": body.inputs}
        if body.stream:
            return await self._streamed(row, user, caller_trace, route, events)
        return await self._answer(row, user, route, caller_trace, render)

    async def _check_model(self, requested: str) -> None:
        served = await self._served_models()
        if requested not in {entry["id"] for entry in served}:
            raise _not_served(requested, served)
