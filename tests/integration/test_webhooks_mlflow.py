"""Webhooks over real HTTP: a real `mlflow server` (SQLite) delivers
model_version_alias.created to raygate's receiver, which starts a release only for the
watched alias; the controller's notifications arrive signed and verifiable."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from raygate.canary.release_state import ReleaseState
from raygate.canary.webhooks import WebhookNotifier, verify
from raygate.testing import free_port
from raygate.webhook_receiver import build_receiver
from tests.integration.conftest import wait_for

SECRET = "webhook-secret-4b1d"


@pytest.fixture
def receiver() -> Iterator[tuple[str, list]]:
    import uvicorn

    started: list[tuple[str, int]] = []
    app = build_receiver(SECRET, lambda name, version: started.append((name, version)) or "ok")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the receiver")
    yield f"http://127.0.0.1:{port}", started
    server.should_exit = True
    thread.join(10)


def test_mlflow_s_alias_webhook_starts_a_release_of_that_version(mlflow_server, receiver):
    from mlflow import MlflowClient

    url, started = receiver
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    client.create_webhook(name="raygate", url=f"{url}/mlflow", secret=SECRET,
                          events=["model_version_alias.created"])  # fmt: skip
    client.create_registered_model("hooked-agent")
    for _ in range(2):
        client.create_model_version("hooked-agent", source="s3://raygate-test/agent")
    client.set_registered_model_alias("hooked-agent", "champion", "1")  # watched? no
    client.set_registered_model_alias("hooked-agent", "candidate", "2")
    wait_for(lambda: started, 60, "MLflow's delivery to the receiver")
    time.sleep(1)  # any delivery for `champion` would have arrived by now too
    assert started == [("hooked-agent", 2)]


def test_the_controller_s_notifications_arrive_signed_over_http():
    received: list[tuple[dict, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            problem = verify(SECRET, self.headers["X-Raygate-Delivery-Id"],
                             self.headers["X-Raygate-Timestamp"], body,
                             self.headers["X-Raygate-Signature"])  # fmt: skip
            received.append((json.loads(body), problem))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        state = ReleaseState(release_id="r-1", model_name="agent", candidate_version=2,
                             champion_version=1, started_at=0, judged_until=0,
                             rollout={"started_at": 0})  # fmt: skip
        assert WebhookNotifier(url, SECRET)("release.promoted", state)
        assert not WebhookNotifier(f"http://127.0.0.1:{free_port()}/gone", SECRET)(
            "release.step", state)  # fmt: skip
    finally:
        server.shutdown()
    ((payload, problem),) = received
    assert problem is None and payload["event"] == "release.promoted"
    assert payload["release"]["candidate_version"] == 2
