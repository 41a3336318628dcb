"""Baselines of serve_overhead.py: the plain Ray Serve app a user would write for a pyfunc, one
deployment that loads it and predicts each request (no router, no auth, no batching), and the
same app with Serve's request batching (to separate the router's cost from batching's gain)."""

from __future__ import annotations

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
