"""The baseline of serve_overhead.py: the plain Ray Serve app a user would write for a pyfunc,
one deployment that loads it and predicts each request (no router, no auth, no batching)."""

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


def build_plain(args: dict[str, Any]) -> serve.Application:
    return PlainPyfunc.bind(args["model_uri"])
