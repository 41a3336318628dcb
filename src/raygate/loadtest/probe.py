"""One request of the workload before the load starts: a URL nothing answers at, a token the
service refuses, a path it does not have (the wrong --protocol) or a request it finds invalid
(a 422: a model input the workload does not give) fails the load test at once, instead of
after --duration of identical failures."""

from __future__ import annotations

from typing import Any

from raygate.errors import LoadTestError, root_cause
from raygate.loadtest.tls import https_session, untrusted_hint
from raygate.loadtest.transport import (
    Prompt,
    Target,
    request_body,
    request_headers,
    request_path,
)

# Other answers (5xx, 429, a timeout) are what a load test is there to measure: the load runs.
_REFUSALS = {401, 403, 404, 405, 422}


def probe_target(target: Target, prompt: Prompt, token_env: str) -> None:
    """Send `prompt` once and read the answer's status (a stream is not waited out); raise
    LoadTestError saying what to fix when the target cannot be load-tested as asked."""
    import requests

    where = f"{target.url}{request_path(target)}"
    timeout = (min(10.0, target.timeout_s), target.timeout_s)
    try:
        with https_session(target.ca_pem) as session:
            sent = session.post(where, json=request_body(target, prompt), stream=True,
                                headers=request_headers(target), timeout=timeout)  # fmt: skip
            with sent as response:
                status = response.status_code
                code, said = _server_error(response) if status in _REFUSALS else (None, "")
    except requests.ReadTimeout:
        return  # slow, not absent: the load test measures it
    except requests.RequestException as exc:  # refused or unanswered, no such name, TLS
        raise _unreachable(target, exc) from None
    if status in (401, 403):
        hint = unauthorized_hint(token_env, target.token)
        raise LoadTestError(f"POST {where} was refused ({status}{said}): {hint}")
    if target.protocol == "openai" and (code == "model_not_found" or _names_no_model(said)):
        raise LoadTestError(
            f"POST {where} answered {status}{said}: pass --model with a model the service "
            f"serves (GET {target.url}/v1/models lists them), or leave --model out for the first"
        )
    if status == 422:
        raise LoadTestError(
            f"POST {where} answered 422{said}: the service refuses the workload's first request "
            "as sent; fix the workload (a model that takes other inputs gets them from each "
            "row's 'inputs', or a gold row's 'metadata')"
        )
    if status in _REFUSALS:
        other = "--protocol openai" if target.protocol == "predict" else "--protocol predict"
        raise LoadTestError(
            f"POST {where} answered {status}{said}: the service at {target.url} does not take "
            f"--protocol {target.protocol} requests there; check the URL (the service's base "
            f"URL, e.g. http://127.0.0.1:8000), or pass {other}"
        )


def check_reachable(target: Target) -> None:
    """Any answer at the target's base URL, in seconds, before Ray starts and the workload is
    read (`probe_target` then sends a real request); LoadTestError when nothing answers."""
    import requests

    timeout = (min(10.0, target.timeout_s), min(2.0, target.timeout_s))
    try:
        with https_session(target.ca_pem) as session:
            session.get(target.url, timeout=timeout, stream=True).close()
    except requests.ReadTimeout:
        return  # connected, slow to answer: the load test measures it
    except requests.RequestException as exc:
        raise _unreachable(target, exc) from None


def _unreachable(target: Target, exc: Exception) -> LoadTestError:
    if hint := untrusted_hint(exc):
        return LoadTestError(f"{target.url}: {hint} ({root_cause(exc)})")
    return LoadTestError(
        f"nothing answers at {target.url} ({root_cause(exc)}); check the URL and that the "
        "service is up (`raygate serve status` for a raygate deployment)"
    )


def unauthorized_hint(token_env: str, token: str | None) -> str:
    """Where the API token goes, for a service that refused a request as unauthorized."""
    if not token:
        return (
            f"${token_env} is not set; put the service's API token there, or name another "
            "variable with --token-env"
        )
    return f"check the token in ${token_env}"


def _server_error(response: Any) -> tuple[str | None, str]:
    """The error's code and ': <the server's own words>' from an OpenAI-shaped or FastAPI
    error body, where it has them."""
    try:
        body = response.json()
    except ValueError:
        return None, ""
    if not isinstance(body, dict):
        return None, ""
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else error or body.get("detail")
    if not message:
        return code, ""
    said = str(message)
    return code, f": {said if len(said) <= 300 else said[:300].rsplit(' ', 1)[0] + ' …'}"


def _names_no_model(said: str) -> bool:
    """vLLM's way of saying so: 'The model `x` does not exist.' (its code is the status)."""
    return "model" in said and "does not exist" in said
