"""One request function per protocol (raygate predict, OpenAI chat, streaming or not): never
raises; each result records success, status, error, timings, tokens and who answered."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal, NamedTuple

from raygate.constants import FAILED_FINISH_REASONS
from raygate.loadtest.http_client import HttpClient, HttpResponse

Protocol = Literal["predict", "openai"]


@dataclass
class Target:
    """Where and how to send: base URL, protocol, credentials, model (OpenAI) and streaming."""

    url: str
    protocol: Protocol = "predict"
    token: str | None = None
    model: str = "reference-agent"
    stream: bool = False
    timeout_s: float = 60.0
    ca_pem: str | None = None  # https: the CA certificates to trust (None: the system's)


def served_model(target: Target, timeout_s: float = 10.0) -> str:
    """The first model GET /v1/models lists (raygate: the registered name; vLLM and other
    OpenAI-compatible servers: their one model), for `--protocol openai` without `--model`."""
    import requests

    from raygate.errors import LoadTestError
    from raygate.loadtest.tls import https_session, untrusted_hint

    headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
    where = f"{target.url.rstrip('/')}/v1/models"
    try:
        with https_session(target.ca_pem) as session:
            response = session.get(where, headers=headers, timeout=timeout_s)
        response.raise_for_status()
        return str(response.json()["data"][0]["id"])
    except (requests.RequestException, ValueError, KeyError, IndexError, TypeError) as exc:
        fix = untrusted_hint(exc) or (
            "check the URL, the token and that the server is up, or pass --model NAME"
        )
        raise LoadTestError(
            f"cannot read the served model's name from {where} ({type(exc).__name__}: "
            f"{str(exc)[:200]}); {fix}"
        ) from None


Conversation = tuple[dict[str, str], ...]  # OpenAI chat messages: role and content


@dataclass
class Prompt:
    """One request of the workload: a query (the last user turn of a conversation), the
    whole conversation where the workload gave one (sent as is by the openai protocol), and
    the model's other inputs where it gave them (sent as `inputs` by the predict protocol)."""

    query: str
    user_id: str | None = None
    messages: Conversation | None = None
    inputs: dict[str, Any] | None = None


class RequestResult(NamedTuple):
    """One row of the results dataset (a tuple: cheap to make at thousands per second).
    Times in ms; `latency_ms` counts from the scheduled send time (open loop), so a stall in
    the client or server cannot hide (no coordinated omission); `service_ms` from the send."""

    worker: int
    scheduled_s: float
    latency_ms: float
    service_ms: float
    ttft_ms: float | None
    itl_ms: list[float]
    ok: bool
    status: int
    error: str | None
    tokens_in: int | None
    tokens_out: int | None
    cost_usd: float | None
    variant: str | None
    finish_reason: str | None
    safety_flags: list[str]
    finished_at: float  # wall-clock seconds when the answer (or the failure) arrived
    model_id: str | None  # name@version that answered, from the body or x-raygate-model-id


def request_path(target: Target) -> str:
    return "/v1/predict" if target.protocol == "predict" else "/v1/chat/completions"


def request_headers(target: Target) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if target.token:
        headers["Authorization"] = f"Bearer {target.token}"
    return headers


def request_body(target: Target, prompt: Prompt) -> dict[str, Any]:
    """The JSON body the protocol sends for `prompt`."""
    if target.protocol == "predict":
        body: dict[str, Any] = {"query": prompt.query}
        if prompt.user_id:
            body["user_id"] = prompt.user_id
        if prompt.inputs:
            body["inputs"] = prompt.inputs
        return body
    messages = prompt.messages or ({"role": "user", "content": prompt.query},)
    body = {"model": target.model, "messages": list(messages)}
    if prompt.user_id:
        body["user"] = prompt.user_id
    if target.stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


class Sender:
    """Builds each protocol's request once per prompt and turns responses into results."""

    def __init__(self, target: Target, client: HttpClient) -> None:
        self._target, self._client = target, client
        self._headers, self._path = request_headers(target), request_path(target)

    def prepare(self, prompt: Prompt) -> bytes:
        payload = json.dumps(request_body(self._target, prompt), separators=(",", ":")).encode()
        return self._client.request_bytes("POST", self._path, payload, self._headers)

    async def send(
        self, payload: bytes, worker: int, scheduled_s: float, due: float
    ) -> RequestResult:
        """Send now; `due` is the perf_counter time the request was scheduled for."""
        sent = time.perf_counter()
        try:
            response = await self._client.send(payload, self._target.timeout_s)
        except TimeoutError:
            return self._failed(worker, scheduled_s, due, sent, 0, "timeout")
        except (ConnectionError, OSError) as exc:
            return self._failed(
                worker, scheduled_s, due, sent, 0, f"connection: {type(exc).__name__}"
            )
        done = time.perf_counter()
        if not 200 <= response.status < 300:
            return self._failed(worker, scheduled_s, due, sent, response.status,
                                f"http_{response.status}", done, response)  # fmt: skip
        if self._target.stream and self._target.protocol == "openai":
            ttft, itl, usage, error = _stream_timings(response, sent)
            fields: dict[str, Any] = {"ttft_ms": ttft, "itl_ms": itl, **usage}
        else:
            body, problem = _json_object(response)  # parsed once: this is the hot path
            fields = {"ttft_ms": None, "itl_ms": [], **_answer_fields(response, body)}
            error = _answer_error(problem, fields)
        return RequestResult(worker=worker, scheduled_s=scheduled_s,
                             latency_ms=(done - due) * 1000, service_ms=(done - sent) * 1000,
                             ok=error is None, status=response.status, error=error,
                             finished_at=time.time(), **fields)  # fmt: skip

    @staticmethod
    def _failed(worker: int, scheduled_s: float, due: float, sent: float, status: int,
                error: str, done: float | None = None,
                response: HttpResponse | None = None) -> RequestResult:  # fmt: skip
        """A failed request; an HTTP error still says who answered and how it ended."""
        done = done or time.perf_counter()
        fields = _answer_fields(response, _json_object(response)[0]) if response is not None else {}
        return RequestResult(worker, scheduled_s, (done - due) * 1000, (done - sent) * 1000,
                             None, [], False, status, error, None, None, None,
                             fields.get("variant"), fields.get("finish_reason"),
                             fields.get("safety_flags", []), time.time(),
                             fields.get("model_id"))  # fmt: skip


def _json_object(response: HttpResponse) -> tuple[dict[str, Any], str | None]:
    """The body as a JSON object, or {} and why it is not one."""
    try:
        body = json.loads(response.body)
    except ValueError:
        return {}, "body: not JSON"
    if not isinstance(body, dict):
        return {}, f"body: a JSON {type(body).__name__}, not an object"
    return body, None


def _answer_error(problem: str | None, fields: dict[str, Any]) -> str | None:
    """Why a 2xx answer is still a failure: a body that is not a JSON object, or a finish
    reason that says the model failed (an older server's 200); None for a real answer."""
    if problem is not None:
        return problem
    if fields.get("finish_reason") in FAILED_FINISH_REASONS:
        return f"finish_{fields['finish_reason']}"
    return None


def _answer_fields(response: HttpResponse, body: dict[str, Any]) -> dict[str, Any]:
    """Tokens, cost, variant, finish reason and safety flags from a JSON answer (predict,
    chat.completion, or an error body); an empty body gives none."""
    usage = body.get("usage") or {}
    choices = body.get("choices") or [{}]
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    flags = body.get("safety_flags")
    return {
        "tokens_in": body.get("tokens_in", usage.get("prompt_tokens")),
        "tokens_out": body.get("tokens_out", usage.get("completion_tokens")),
        "cost_usd": body.get("cost_usd"),
        "variant": body.get("variant")
        or error.get("variant")
        or response.headers.get("x-raygate-variant"),
        "finish_reason": body.get("finish_reason")
        or error.get("finish_reason")
        or choices[0].get("finish_reason"),
        "model_id": body.get("model_id")
        or error.get("model_id")
        or response.headers.get("x-raygate-model-id"),
        "safety_flags": [str(f) for f in flags] if isinstance(flags, list) else [],
    }


def _stream_timings(
    response: HttpResponse, sent: float
) -> tuple[float | None, list[float], dict, str | None]:
    """TTFT and inter-token gaps from the arrival times of server-sent events with content,
    and why the stream failed: an error event (a failure after the 200 was sent: OpenAI's
    `{"error": …}`, or vLLM's older `{"object": "error"}`), or an end with neither `[DONE]` nor
    a finish reason (cut short)."""
    arrivals: list[float] = []
    usage: dict[str, Any] = {}
    finish_reason, done, error = None, False, None
    buffered = b""
    for arrived, chunk in response.chunks:
        events, buffered = sse_data(buffered + chunk)
        for data in events:
            if data.strip() == b"[DONE]":
                done = True
                continue
            try:
                message = json.loads(data)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            if message.get("error") or message.get("object") == "error":
                error = "stream_error"
            if message.get("usage"):
                usage = message["usage"]
            choices = message.get("choices") or [{}]
            finish_reason = choices[0].get("finish_reason") or finish_reason
            if (choices[0].get("delta") or {}).get("content"):
                arrivals.append(arrived)
    if error is None and not done and finish_reason is None:
        error = "stream_incomplete"
    ttft = (arrivals[0] - sent) * 1000 if arrivals else None
    gaps = [(b - a) * 1000 for a, b in pairwise(arrivals)]
    return (
        ttft,
        gaps,
        {
            "tokens_in": usage.get("prompt_tokens"),
            "tokens_out": usage.get("completion_tokens"),
            "cost_usd": None,
            "variant": response.headers.get("x-raygate-variant"),
            "finish_reason": finish_reason,
            "safety_flags": [],
            "model_id": response.headers.get("x-raygate-model-id"),
        },
        error,
    )


def sse_data(buffered: bytes) -> tuple[list[bytes], bytes]:
    """The data of each complete server-sent event in `buffered`, and the incomplete rest.
    As the SSE format has it: lines end in LF or CRLF, `data:` may lack its space, an event's
    data lines are joined by newlines; comments (`: ping`) and other fields are skipped."""
    *events, rest = buffered.replace(b"\r\n", b"\n").split(b"\n\n")
    found = []
    for event in events:
        lines = [line[5:].removeprefix(b" ") for line in event.split(b"\n")
                 if line.startswith(b"data:")]  # fmt: skip
        if lines:
            found.append(b"\n".join(lines))
    return found, rest
