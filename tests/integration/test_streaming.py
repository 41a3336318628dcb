"""Streams end to end: a pyfunc with predict_stream answers through the router piece by
piece; the official openai client reads it; a client that goes away stops the model."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import log_code_model
from tests.integration.test_serving import TOKEN, Served, deploy

STREAMER = """
import time
from pathlib import Path

import mlflow
from mlflow.models import set_model

PROGRESS = Path(PROGRESS_FILE)


class Streamer(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return ["Hello world" for _ in model_input["query"]]

    def predict_stream(self, context, model_input, params=None):
        query = model_input["query"] if isinstance(model_input, dict) else "?"
        if query == "slow":
            for i in range(40):
                PROGRESS.write_text(str(i))
                yield f"{i} "
                time.sleep(0.25)
            return
        if query == "fail":
            yield "Hello"
            raise RuntimeError("the model broke after its first piece")
        yield "Hello"
        time.sleep(1.5)
        yield " world"


set_model(Streamer())
"""


@pytest.fixture(scope="module")
def streaming(local_ray, raygate_home, tmp_path_factory) -> Iterator[tuple[Served, Path]]:
    from raygate.registry.mlflow_registry import MlflowRegistry

    folder = tmp_path_factory.mktemp("streamer")
    progress = folder / "progress.txt"
    uri = log_code_model(folder, STREAMER.replace("PROGRESS_FILE", repr(str(progress))))
    registry, name = MlflowRegistry(), "stream-agent"
    version = registry.register(name, uri, {})
    for alias in ("champion", "candidate"):
        registry.set_alias(name, alias, version.version)
    for served in deploy(local_ray, tmp_path_factory, name, rate_limit=None):
        yield served, progress


def _chat(served: Served, query: str, **extra) -> requests.Response:
    body = {"model": served.model_name, "stream": True,
            "messages": [{"role": "user", "content": query}], **extra}  # fmt: skip
    return requests.post(f"{served.url}/v1/chat/completions", json=body,
                         headers=served.headers, stream=True, timeout=30)  # fmt: skip


def test_pieces_arrive_as_the_model_yields_them_not_at_the_end(streaming):
    served, _ = streaming
    arrivals: list[tuple[float, str]] = []
    with _chat(served, "hi", stream_options={"include_usage": True}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith(b"data: {"):
                chunk = json.loads(line[6:])
                text = "".join((c["delta"].get("content") or "") for c in chunk["choices"])
                if text:
                    arrivals.append((time.monotonic(), text))
    assert "".join(t for _, t in arrivals) == "Hello world"
    # The model waits 1.5 s between its two pieces: the first came well before the last.
    assert arrivals[-1][0] - arrivals[0][0] > 1.0


def test_the_openai_client_streams_and_models_say_who_streams(streaming):
    import openai

    served, _ = streaming
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key=TOKEN, max_retries=0)
    variants = [m for m in client.models.list().model_dump()["data"] if m.get("variants")]
    assert variants and all(m["streams"] for m in variants)
    stream = client.chat.completions.create(
        model=served.model_name, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    pieces = [
        c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content
    ]
    assert "".join(pieces) == "Hello world" and len(pieces) == 2


def test_a_client_that_goes_away_stops_the_generation(streaming):
    served, progress = streaming
    with _chat(served, "slow") as response:
        for line in response.iter_lines():
            if b'"content": "1 "' in line:
                break  # two pieces read: hang up
    time.sleep(3)  # the model would reach piece ~13 by now if nobody stopped it
    stopped_at = int(progress.read_text())
    time.sleep(2)
    assert int(progress.read_text()) == stopped_at < 20


def test_a_streamed_load_test_measures_time_to_first_token_below_the_total(
    streaming, local_ray, tmp_path
):
    from raygate.loadtest.arrival import ArrivalConfig
    from raygate.loadtest.runner import run_load
    from raygate.loadtest.transport import Prompt, Target

    served, _ = streaming
    target = Target(served.url, protocol="openai", token=TOKEN, model=served.model_name,
                    stream=True)  # fmt: skip
    plan = ArrivalConfig(concurrency=2, duration_s=3)
    summary = run_load(target, plan, (Prompt("hi"),), tmp_path).summary
    assert summary["requests"] >= 2 and summary["error_rate"] == 0
    # Each answer's second piece comes 1.5 s after its first.
    assert summary["latency_ms_p50"] - summary["ttft_ms_p50"] > 1000


def test_a_stream_that_fails_after_its_first_piece_is_a_failed_request_in_a_load_test(
    streaming, local_ray, tmp_path
):
    from raygate.loadtest.arrival import ArrivalConfig
    from raygate.loadtest.runner import run_load
    from raygate.loadtest.transport import Prompt, Target

    served, _ = streaming
    target = Target(served.url, protocol="openai", token=TOKEN, model=served.model_name,
                    stream=True)  # fmt: skip
    summary = run_load(target, ArrivalConfig(concurrency=1, duration_s=2), (Prompt("fail"),),
                       tmp_path).summary  # fmt: skip
    assert summary["requests"] >= 1 and summary["error_rate"] == 1  # each one sent a 200 first
    assert set(summary["errors_by_type"]) == {"stream_error"}
