"""Autoscaling shown: under load the champion grows from one replica to two, and shrinks
back once the load is gone, without a failed request."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests

from raygate.config import load_agent_config
from raygate.packaging.build import log_agent_model
from tests.integration.conftest import AGENTS
from tests.integration.test_serving import QUERY, Served, deploy, running

AUTOSCALING = {
    "min_replicas": 1,
    "max_replicas": 2,
    "target_ongoing_requests": 2,
    "metrics_interval_s": 0.5,
    "look_back_period_s": 2,
    "upscale_delay_s": 1,
    "downscale_delay_s": 4,
}


@pytest.fixture(scope="module")
def autoscaled(local_ray, raygate_home, tmp_path_factory) -> Iterator[Served]:
    from raygate.registry.mlflow_registry import MlflowRegistry

    registry = MlflowRegistry()
    name = "autoscaled-agent"
    built = log_agent_model(load_agent_config(AGENTS / "v1.yaml"))
    version = registry.register(name, built.model_uri, built.tags)
    for alias in ("champion", "candidate"):
        registry.set_alias(name, alias, version.version)
    yield from deploy(local_ray, tmp_path_factory, name, champion_autoscaling=AUTOSCALING,
                      rate_limit=None)  # fmt: skip


def _champion_replicas(served: Served) -> int:
    return served.control.status()["deployments"]["champion"]["replicas"]


def _wait_replicas(served: Served, count: int, timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        status = served.control.status()
        if running(status) and status["deployments"]["champion"]["replicas"] == count:
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"champion never reached {count} replicas: {status['deployments']}")


def test_the_champion_scales_up_under_load_and_down_after_it_without_failures(autoscaled):
    assert _champion_replicas(autoscaled) == 1
    statuses: Counter[int] = Counter()
    stop = threading.Event()

    def client(index: int) -> None:
        session = requests.Session()
        while not stop.is_set():
            body = {"query": QUERY, "user_id": f"load-{index}"}
            response = session.post(f"{autoscaled.url}/v1/predict", json=body,
                                    headers=autoscaled.headers, timeout=30)  # fmt: skip
            statuses[response.status_code] += 1

    clients = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(12)]
    for thread in clients:
        thread.start()
    try:
        _wait_replicas(autoscaled, 2, timeout_s=90)
        time.sleep(2)  # the new replica takes traffic too
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=30)
    _wait_replicas(autoscaled, 1, timeout_s=90)
    assert statuses[200] > 0 and set(statuses) == {200}, statuses
