"""Failures on the wire, through the real serving app: an agent whose generator's endpoint
refuses connections answers 502, one whose endpoint hangs past the deadline answers 504, and
a load test counts both as errors."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from raygate.config import AgentConfig
from raygate.packaging.build import log_agent_model
from raygate.testing import free_port
from tests.integration.test_serving import TOKEN, Served, deploy

NAME = "failing-agent"


class HangingServer:
    """Accepts connections on 127.0.0.1 and never answers (each held for at most 5 s)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by close()
                return
            threading.Timer(5.0, conn.close).start()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


def agent_config(base_url: str, **loop) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "name": NAME,
            "prompt": {"id": "grounded-answer", "version": 1},
            "generator": {"kind": "openai", "base_url": base_url, "model": "m", "timeout_s": 2},
            "loop": {"retry_attempts": 2, "retry_max_wait_s": 0.05, **loop},
        }
    )


@pytest.fixture(scope="module")
def failing(local_ray, raygate_home, tmp_path_factory) -> Iterator[Served]:
    from raygate.registry.mlflow_registry import MlflowRegistry

    hanging = HangingServer()
    refused = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    registry = MlflowRegistry()
    configs = {
        "champion": agent_config(refused),
        "candidate": agent_config(
            f"http://127.0.0.1:{hanging.port}/v1", step_timeout_s=5, deadline_s=0.8
        ),
    }
    for alias, config in configs.items():
        built = log_agent_model(config)
        version = registry.register(NAME, built.model_uri, built.tags)
        registry.set_alias(NAME, alias, version.version)
    yield from deploy(local_ray, tmp_path_factory, NAME, canary_percent=50, rate_limit=None)
    hanging.close()


def answers_by_variant(served: Served, users: int = 16) -> dict[str, requests.Response]:
    found: dict[str, requests.Response] = {}
    for i in range(users):
        response = served.predict({"query": "What is the price of the Nova Kettle K-140?",
                                   "user_id": f"user-{i}"})  # fmt: skip
        found.setdefault(response.headers["x-raygate-variant"], response)
        if len(found) == 2:
            break
    return found


def test_a_model_error_is_502_and_a_deadline_is_504_naming_who_failed(failing):
    found = answers_by_variant(failing)
    assert set(found) == {"champion", "canary"}
    for variant, status, reason in (("champion", 502, "error"), ("canary", 504, "deadline")):
        response = found[variant]
        error = response.json()["error"]
        assert response.status_code == status, response.text
        assert error["code"] == {502: "model_error", 504: "timeout"}[status]
        assert error["variant"] == variant
        assert error["finish_reason"] == reason == response.headers["x-raygate-finish-reason"]
        assert error["model_id"].startswith(f"{NAME}@") and len(error["trace_id"]) == 32
        assert error["model_id"] == response.headers["x-raygate-model-id"]


def test_the_openai_endpoint_fails_the_same_way(failing):
    import openai

    client = openai.OpenAI(base_url=f"{failing.url}/v1", api_key=TOKEN, max_retries=0)
    statuses = set()
    for i in range(16):
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(
                model=NAME, messages=[{"role": "user", "content": "price?"}], user=f"u{i}"
            )
        statuses.add(caught.value.status_code)
    assert statuses <= {502, 504} and statuses


def test_a_load_test_counts_model_failures_as_errors(failing, tmp_path):
    from raygate.loadtest.arrival import ArrivalConfig
    from raygate.loadtest.runner import run_load
    from raygate.loadtest.transport import Prompt, Target

    run = run_load(
        Target(failing.url, "predict", TOKEN, timeout_s=10),
        ArrivalConfig(rate=10, duration_s=2, process="constant"),
        tuple(Prompt("What is the price of the Nova Kettle K-140?", f"u{i}") for i in range(20)),
        tmp_path,
    )
    summary = run.summary
    assert summary["requests"] == 20 and summary["succeeded"] == 0
    assert summary["error_rate"] == 1.0 and summary["goodput_rps"] == 0.0
    assert set(summary["errors_by_type"]) <= {"http_502", "http_504"}
    assert all(key.split()[0] in ("502", "504") for key in summary["outcomes"])
