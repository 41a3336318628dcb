"""One request of the workload before the load starts: a URL nothing answers at, a token the
service refuses or a path it does not have (the wrong --protocol) fails the load test at once,
instead of after --duration of identical failures."""

from __future__ import annotations

import asyncio
import json

from raygate.errors import LoadTestError
from raygate.loadtest.http_client import HttpClient, HttpResponse
from raygate.loadtest.transport import Prompt, Sender, Target

# Other answers (5xx, 429, a timeout) are what a load test is there to measure: the load runs.
_REFUSALS = {401, 403, 404, 405}


def probe_target(target: Target, prompt: Prompt, token_env: str) -> None:
    """Send `prompt` once; raise LoadTestError saying what to fix when the target cannot be
    load-tested as asked."""
    path = "/v1/predict" if target.protocol == "predict" else "/v1/chat/completions"
    where = f"{target.url}{path}"
    try:
        response = asyncio.run(_send_once(target, prompt))
    except TimeoutError:
        return  # slow, not absent: the load test measures it
    except OSError as exc:  # ConnectionError, a name that does not resolve, TLS
        raise LoadTestError(
            f"nothing answers at {target.url} ({type(exc).__name__}: {exc}); check the URL and "
            "that the service is up (`raygate serve status` for a raygate deployment)"
        ) from None
    if response.status not in _REFUSALS:
        return
    said = _server_message(response)
    if response.status in (401, 403):
        raise LoadTestError(
            f"POST {where} was refused ({response.status}{said}): "
            + unauthorized_hint(token_env, target.token)
        )
    other = "--protocol openai" if target.protocol == "predict" else "--protocol predict"
    raise LoadTestError(
        f"POST {where} answered {response.status}{said}: the service at {target.url} does not "
        f"take --protocol {target.protocol} requests there; check the URL (the service's base "
        f"URL, e.g. http://127.0.0.1:8000), or pass {other}"
        + (" or --model NAME" if target.protocol == "openai" else "")
    )


def unauthorized_hint(token_env: str, token: str | None) -> str:
    """Where the API token goes, for a service that refused a request as unauthorized."""
    if not token:
        return (
            f"${token_env} is not set; put the service's API token there, or name another "
            "variable with --token-env"
        )
    return f"check the token in ${token_env}"


async def _send_once(target: Target, prompt: Prompt) -> HttpResponse:
    client = HttpClient(target.url, 1)
    try:
        return await client.send(Sender(target, client).prepare(prompt), target.timeout_s)
    finally:
        client.close()


def _server_message(response: HttpResponse) -> str:
    """': <the server's own words>' from an OpenAI-shaped or FastAPI error body, if any."""
    try:
        body = json.loads(response.body)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else error or body.get("detail")
    return f": {str(message)[:200]}" if message else ""
