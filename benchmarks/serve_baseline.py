"""Baselines of serve_overhead.py: the plain Ray Serve app a user would write for a pyfunc, one
deployment that loads it and predicts each request (no router, no auth, no batching), and the
same app with Serve's request batching (to separate the router's cost from batching's gain).
Also a prototype of another layout, measured before it is built: raygate's own router class
holding the champion's model in its own replica, so only canary traffic takes a second hop."""

from __future__ import annotations

import inspect
from typing import Any

import mlflow
import pandas as pd
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse


@serve.deployment(max_ongoing_requests=64)
class PlainPyfunc:
    def __init__(self, model_uri: str) -> None:
        self._model = mlflow.pyfunc.load_model(model_uri)

    async def __call__(self, request: Request) -> JSONResponse:
        row = await request.json()
        frame = self._model.predict(pd.DataFrame([row]))
        record = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")[0]
        return JSONResponse(record)


@serve.deployment(max_ongoing_requests=64)
class BatchedPyfunc:
    def __init__(self, model_uri: str) -> None:
        self._model = mlflow.pyfunc.load_model(model_uri)

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.002)
    async def predict(self, rows: list[dict]) -> list[dict]:
        frame = self._model.predict(pd.DataFrame(rows))
        return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")

    async def __call__(self, request: Request) -> JSONResponse:
        return JSONResponse(await self.predict(await request.json()))


def build_plain(args: dict[str, Any]) -> serve.Application:
    return PlainPyfunc.bind(args["model_uri"])


def build_batched(args: dict[str, Any]) -> serve.Application:
    return BatchedPyfunc.bind(args["model_uri"])


async def _ready(value: Any) -> Any:
    return value


class _InProcessMethod:
    """`handle.method.remote(...)` answered by the method itself: always an awaitable."""

    def __init__(self, method: Any) -> None:
        self._method = method

    def remote(self, *args: Any) -> Any:
        result = self._method(*args)
        return result if inspect.isawaitable(result) else _ready(result)


class _InProcess:
    """What the router calls on a DeploymentHandle (`.predict.remote`, `.options(stream=True)`,
    `.info.remote`), answered by a ModelVariant living in the same replica."""

    def __init__(self, variant: Any) -> None:
        self._variant = variant

    def options(self, **_: Any) -> _InProcess:
        return self

    def __getattr__(self, method: str) -> _InProcessMethod:
        return _InProcessMethod(getattr(self._variant, method))


def _champion_ingress_class() -> type:
    from raygate.serving.model import ModelVariant
    from raygate.serving.router import Router

    class ChampionIngress(Router.func_or_class):
        """raygate's router (auth, limits, validation, traces, records, metrics) whose
        champion answers in this replica; the canary stays its own deployment."""

        async def __init__(self, canary: Any, model_name: str, champion_uri: str) -> None:
            variant = ModelVariant.func_or_class("champion")
            await super().__init__(_InProcess(variant), canary, model_name)
            await variant.reconfigure({"model_uri": champion_uri})

    return ChampionIngress


def build_champion_ingress(args: dict[str, Any]) -> serve.Application:
    from raygate.serving.model import ModelVariant

    canary = ModelVariant.options(name="canary", user_config={"model_uri": args["canary_uri"]})
    ingress = serve.deployment(_champion_ingress_class(), name="router", max_ongoing_requests=256)
    settings = {"canary_percent": 5, "rate_limit": None}
    return ingress.options(user_config=settings).bind(
        canary.bind("canary"), args["model_name"], args["champion_uri"]
    )
