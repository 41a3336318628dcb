"""A receiver for MLflow registry webhooks: an authentic `model_version_alias.created` for the
watched alias (default `candidate`) starts the release flow for that version — eval → gates →
canary → promote | roll back — as its own process; anything else is acknowledged and ignored."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from raygate.canary.webhooks import verify
from raygate.constants import ALIAS_CANDIDATE
from raygate.serving.api_errors import BodyLimit, install_error_handlers
from raygate.telemetry.tracing import FASTAPI_TELEMETRY_OFF

ENV_MLFLOW_WEBHOOK_SECRET = "RAYGATE_MLFLOW_WEBHOOK_SECRET"
# MLflow's deliveries are a few hundred bytes; the body is read before its signature is checked
MAX_BODY_BYTES = 64 * 1024
Starter = Callable[[str, int], str]  # (model name, version) → what was started


def release_arguments(
    gold: str, gates: Path, rollout: Path, release_files: Mapping[str, Path]
) -> Callable[[str, int], list[str]]:
    """`raygate release`'s arguments for a version of a model: the model's release file with
    the version's URI where it has one (its gold set, policies, input map and eval resources),
    else the gold set and policies given."""

    def arguments(name: str, version: int) -> list[str]:
        uri = f"models:/{name}/{version}"
        if name in release_files:
            return ["release", "--config", str(release_files[name]), "--model-uri", uri]
        return ["release", "--name", name, "--model-uri", uri, "--gold", gold,
                "--gates", str(gates), "--rollout", str(rollout)]  # fmt: skip

    return arguments


def release_starter(arguments: Callable[[str, int], list[str]], log_dir: Path) -> Starter:
    """Start `raygate release` for the version in the background, one per model at a time;
    its output goes to LOG_DIR/release-NAME-vVERSION.log."""
    running: dict[str, subprocess.Popen] = {}

    def start(name: str, version: int) -> str:
        current = running.get(name)
        if current is not None and current.poll() is None:
            return f"a release of {name} is already running (pid {current.pid}); not started"
        log_dir.mkdir(parents=True, exist_ok=True)
        log = (log_dir / f"release-{name}-v{version}.log").open("w")
        command = [sys.executable, "-m", "raygate.cli.main", *arguments(name, version)]
        running[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        return f"release of {name} v{version} started (pid {running[name].pid}, log {log.name})"

    return start


def build_receiver(secret: str, start: Starter, alias: str = ALIAS_CANDIDATE) -> FastAPI:
    """The receiver app: POST /mlflow for MLflow's deliveries, GET /healthz."""
    app = FastAPI(title="raygate MLflow webhook receiver", docs_url=None, redoc_url=None,
                  telemetry=FASTAPI_TELEMETRY_OFF)  # fmt: skip
    app.add_middleware(BodyLimit, limit=lambda: MAX_BODY_BYTES)
    install_error_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/mlflow")
    async def mlflow_event(request: Request) -> JSONResponse:
        body = (await request.body()).decode("utf-8", "replace")
        headers = request.headers
        problem = verify(secret, headers.get("x-mlflow-delivery-id", ""),
                         headers.get("x-mlflow-timestamp", ""), body,
                         headers.get("x-mlflow-signature", ""))  # fmt: skip
        if problem:
            return JSONResponse({"error": {"code": "bad_signature", "message": problem}}, 401)
        try:
            event = json.loads(body)
            entity, action, data = event["entity"], event["action"], event["data"]
        except (ValueError, KeyError, TypeError):
            message = "expected MLflow's webhook payload: {entity, action, data}"
            return JSONResponse({"error": {"code": "bad_payload", "message": message}}, 400)
        if (entity, action) != ("model_version_alias", "created"):
            return JSONResponse({"ignored": f"{entity}.{action} starts nothing"})
        if data.get("alias") != alias:
            return JSONResponse({"ignored": f"alias {data.get('alias')!r} is not {alias!r}"})
        try:
            name, version = str(data["name"]), int(data["version"])
        except (KeyError, TypeError, ValueError):
            message = "model_version_alias.created without a name and a numeric version"
            return JSONResponse({"error": {"code": "bad_payload", "message": message}}, 400)
        return JSONResponse({"started": start(name, version)}, 202)

    return app
