"""Errors as the API returns them: OpenAI-style JSON bodies, 422s that name the field, and
a body-size limit enforced before any parsing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from raygate.schemas import LONE_SURROGATE, describe_error
from raygate.serving.openai_schema import UNSUPPORTED_REASONS

_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
    405: "invalid_request_error", 413: "request_too_large", 415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error", 500: "server_error", 502: "model_error", 503: "service_unavailable",
    504: "timeout_error",
}  # fmt: skip


_CODES = {
    400: "invalid_request", 401: "invalid_api_key", 404: "not_found",
    405: "method_not_allowed", 413: "request_too_large", 415: "unsupported_media_type",
    422: "invalid_request", 429: "rate_limit_exceeded", 500: "internal_error",
    502: "model_error", 503: "service_unavailable", 504: "timeout",
}  # fmt: skip


class ErrorDetail(BaseModel):
    """What went wrong and how to fix it."""

    message: str = Field(description="A sentence naming the problem and the fix.")
    type: str = Field(description="Error class, as OpenAI names them.")
    param: str | None = Field(None, description="The offending field, when there is one.")
    code: str = Field(description="A machine-readable code, a string as OpenAI's are.")
    variant: str | None = Field(None, description="Model failures: champion or canary.")
    model_id: str | None = Field(None, description="Model failures: name@version.")
    trace_id: str | None = Field(None, description="Model failures: the request's trace id.")
    finish_reason: str | None = Field(None, description="Model failures: how it ended.")


class ErrorBody(BaseModel):
    """Every error response."""

    error: ErrorDetail


_MEANINGS = {
    401: "Missing or unknown API token.",
    404: "Unknown model.",
    413: "Body over the size limit.",
    415: "The body is not sent as JSON (Content-Type: application/json).",
    422: "Invalid request; the message names the field.",
    429: "Rate limit exceeded (the router's or the model's own); see Retry-After.",
    502: "The model failed; the body names variant, model_id, trace_id and finish_reason.",
    503: "Model unavailable; retry.",
    504: "The model ran out of time (step timeout or deadline); the body says which.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the errors a route may answer."""
    return {s: {"model": ErrorBody, "description": _MEANINGS[s]} for s in statuses}


class ApiError(Exception):
    """An error response the handlers raise; rendered by install_error_handlers."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        served: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.headers = status, message, param, headers
        self.served, self.code = served or {}, code


def error_response(
    status: int,
    message: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
    served: dict[str, str] | None = None,
    code: str | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": _TYPES.get(status, "api_error"),
                      "param": param, "code": code or _CODES.get(status, f"http_{status}"),
                      **(served or {})}}  # fmt: skip
    return JSONResponse(body, status_code=status, headers=headers)


def describe_request_error(errors: list[dict[str, Any]]) -> tuple[str, str | None]:
    """(message, param) for FastAPI's first validation error, naming the field; misspelt
    fields reported beside a missing one are named too."""
    first = errors[0]
    loc = tuple(p for p in first.get("loc", ()) if p != "body")
    if first.get("type") == "json_invalid":
        return "request body is not valid JSON; send a JSON object", None
    if first.get("type") == LONE_SURROGATE:
        return first["msg"], first["ctx"]["param"]
    if not loc:
        if first.get("type") == "missing":
            return "request body is missing; send a JSON object", None
        return f"request body: {first.get('msg', 'invalid')}; send a JSON object", None
    message = describe_error({**first, "loc": loc})
    if loc[0] in UNSUPPORTED_REASONS and first.get("type") != "extra_forbidden":
        message += f": {UNSUPPORTED_REASONS[loc[0]]}"
    unknown = [
        ".".join(str(p) for p in e["loc"] if p != "body")
        for e in errors[1:]
        if e.get("type") == "extra_forbidden"
    ]
    if unknown:
        message += f" (unknown field(s): {', '.join(unknown)}; check their spelling)"
    return message, ".".join(str(p) for p in loc)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as {"error": {...}} with a status that says whose fault it was."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.param, exc.headers, exc.served, exc.code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        if content_type and not _is_json(content_type):  # e.g. curl -d's form encoding
            message = (f"send the body as JSON with the header 'Content-Type: application/json' "
                       f"(it came as '{content_type}')")  # fmt: skip
            return error_response(415, message)
        message, param = describe_request_error(list(exc.errors()))
        return error_response(422, message, param)

    @app.exception_handler(Exception)  # a bug of raygate's: an error body all the same
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        message = (f"the server failed on this request ({type(exc).__name__}); its log has "
                   "the traceback")  # fmt: skip
        return error_response(500, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        asked = f"{request.method} {request.url.path}"
        message = str(exc.detail)
        if exc.status_code == 404 and exc.detail == "Not Found":  # no route: say which exist
            message = f"no endpoint {asked}; this API serves {_endpoints(request.app)}"
        elif exc.status_code == 405:
            headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
            allowed = headers.get("allow", "another method")
            message = f"{asked} is not allowed; use {allowed}"
        elif exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI's body read failed
            message = _unreadable_body(exc.__cause__)
        return error_response(exc.status_code, message, headers=exc.headers)


def _unreadable_body(cause: BaseException) -> str:
    """Why FastAPI could not read a body as JSON (it says only "There was an error parsing
    the body"), and the fix."""
    if isinstance(cause, UnicodeDecodeError):
        return (f"request body is not UTF-8 (byte 0x{cause.object[cause.start]:02x} at "
                f"position {cause.start}); send JSON encoded as UTF-8")  # fmt: skip
    if isinstance(cause, RecursionError):
        return "request body nests too deeply to parse; send a flatter JSON object"
    return f"request body could not be read as JSON ({type(cause).__name__}); send a JSON object"


def _endpoints(app: FastAPI) -> str:
    """The documented routes, as "METHOD /path": what GET /openapi.json lists."""
    paths = app.openapi().get("paths", {})
    return ", ".join(f"{method.upper()} {path}" for path, ops in paths.items() for method in ops)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class BodyLimit:
    """ASGI middleware: 413 for a body over the limit, by Content-Length or as it streams."""

    def __init__(self, app: ASGIApp, limit: Callable[[], int]) -> None:
        self._app, self._limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self._limit()
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(limit)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLarge(limit)
            return message

        await self._app(scope, counted, send)


def _too_large(limit: int) -> JSONResponse:
    return error_response(413, _too_large_message(limit))


def _too_large_message(limit: int) -> str:
    return f"request body is larger than {limit} bytes (the server's max_body_bytes); send less"


class _BodyTooLarge(StarletteHTTPException):
    """Raised while a body without Content-Length streams in: an HTTPException, which FastAPI
    lets through to the handlers (any other error while reading is its generic 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large_message(limit))
