"""Webhook signatures (MLflow's scheme) and the receiver's rules, one test per rule."""

import json
import time

import pytest
from fastapi.testclient import TestClient

from raygate.canary.webhooks import sign, verify
from raygate.webhook_receiver import build_receiver

SECRET = "s3cret"


def delivery(payload: dict, secret: str = SECRET, age_s: float = 0) -> tuple[str, dict]:
    body = json.dumps(payload)
    timestamp = str(int(time.time() - age_s))
    headers = {"X-MLflow-Delivery-Id": "d-1", "X-MLflow-Timestamp": timestamp,
               "X-MLflow-Signature": sign(secret, "d-1", timestamp, body)}  # fmt: skip
    return body, headers


ALIAS_SET = {"entity": "model_version_alias", "action": "created",
             "data": {"name": "agent", "alias": "candidate", "version": "7"}}  # fmt: skip


@pytest.fixture
def receiver():
    started = []
    app = build_receiver(SECRET, lambda name, version: started.append((name, version)) or "ok")
    return TestClient(app), started


def test_a_signed_candidate_move_starts_that_version_s_release(receiver):
    client, started = receiver
    body, headers = delivery(ALIAS_SET)
    response = client.post("/mlflow", content=body, headers=headers)
    assert response.status_code == 202 and started == [("agent", 7)]


def test_a_wrong_secret_is_refused_and_starts_nothing(receiver):
    client, started = receiver
    body, headers = delivery(ALIAS_SET, secret="guess")
    response = client.post("/mlflow", content=body, headers=headers)
    assert response.status_code == 401 and "signature" in response.json()["error"]["message"]
    assert started == []


def test_a_replayed_old_delivery_is_refused(receiver):
    client, started = receiver
    body, headers = delivery(ALIAS_SET, age_s=3600)
    assert client.post("/mlflow", content=body, headers=headers).status_code == 401
    assert started == []


def test_a_body_changed_in_transit_is_refused():
    body, headers = delivery(ALIAS_SET)
    forged = body.replace('"7"', '"8"')
    assert verify(SECRET, "d-1", headers["X-MLflow-Timestamp"], forged,
                  headers["X-MLflow-Signature"]) is not None  # fmt: skip


@pytest.mark.parametrize("payload", [
    {**ALIAS_SET, "data": {**ALIAS_SET["data"], "alias": "champion"}},
    {**ALIAS_SET, "action": "deleted"},
    {"entity": "model_version", "action": "created", "data": {"name": "agent", "version": "7"}},
])  # fmt: skip
def test_other_events_are_acknowledged_and_ignored(receiver, payload):
    client, started = receiver
    body, headers = delivery(payload)
    response = client.post("/mlflow", content=body, headers=headers)
    assert response.status_code == 200 and "ignored" in response.json() and started == []


def test_a_malformed_payload_is_a_400_naming_what_was_expected(receiver):
    client, _ = receiver
    body, headers = delivery({"hello": "world"})
    response = client.post("/mlflow", content=body, headers=headers)
    assert response.status_code == 400 and "entity" in response.json()["error"]["message"]


def test_a_body_over_the_limit_is_refused_unread_and_starts_nothing(receiver):
    client, started = receiver
    payload = {**ALIAS_SET, "padding": "x" * 100_000}
    body, headers = delivery(payload)
    data = body.encode()
    for content in (data, iter([data[:50_000], data[50_000:]])):  # declared, then chunked
        response = client.post("/mlflow", content=content, headers=headers)
        assert response.status_code == 413 and "65536 bytes" in response.json()["error"]["message"]
    assert started == []


def test_a_model_with_a_release_file_is_released_by_it_with_the_delivered_version(tmp_path):
    from pathlib import Path

    from raygate.webhook_receiver import release_arguments

    gpu_agent = tmp_path / "gpu-agent.yaml"
    arguments = release_arguments("smoke", Path("g.yaml"), Path("r.yaml"), {"gpu": gpu_agent})
    assert arguments("gpu", 7) == ["release", "--config", str(gpu_agent),
                                   "--model-uri", "models:/gpu/7"]  # fmt: skip
    assert arguments("other", 3) == ["release", "--name", "other", "--model-uri",
                                     "models:/other/3", "--gold", "smoke", "--gates", "g.yaml",
                                     "--rollout", "r.yaml"]  # fmt: skip


# Outgoing: the controller's notifications


HOOK_PATH = "/services/T000/B000/hook-token-7f3a"  # a Slack-style hook: the path is its secret


@pytest.fixture
def hook_receiver():
    """An HTTP receiver on 127.0.0.1 that keeps what it got; answers `status` (a list: set
    its one item to change it)."""
    from http.server import BaseHTTPRequestHandler

    from raygate.testing import http_server

    got, status = [], [200]

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            got.append((self.path, dict(self.headers), body))
            self.send_response(status[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    with http_server(Hook) as url:
        yield url, got, status


def _state():
    from raygate.canary.release_state import ReleaseState

    return ReleaseState(release_id="r1", model_name="agent", candidate_version=2,
                        champion_version=1, started_at=0, judged_until=0, rollout={})  # fmt: skip


def test_a_notification_is_delivered_signed_and_a_failed_one_is_logged_without_the_path(
    hook_receiver, caplog
):
    from raygate.canary.webhooks import WebhookNotifier

    url, got, status = hook_receiver
    notifier = WebhookNotifier(url + HOOK_PATH, SECRET, timeout_s=2)
    assert notifier(event="release.promoted", state=_state()) and notifier.delivered == 1
    ((path, headers, body),) = got
    assert path == HOOK_PATH and json.loads(body)["release"]["model_name"] == "agent"
    assert verify(SECRET, headers["X-Raygate-Delivery-Id"], headers["X-Raygate-Timestamp"],
                  body, headers["X-Raygate-Signature"]) is None  # fmt: skip
    status[0] = 404
    with caplog.at_level("WARNING", logger="raygate.webhooks"):
        assert not notifier(event="release.promoted", state=_state())
    closed = WebhookNotifier(f"http://127.0.0.1:1{HOOK_PATH}", SECRET, timeout_s=2)
    with caplog.at_level("WARNING", logger="raygate.webhooks"):
        assert not closed(event="release.rolled_back", state=_state())
    assert notifier.failed == closed.failed == 1
    logged = caplog.text
    assert f"to {url}/… failed: HTTP 404" in logged and "ConnectionRefusedError" in logged
    assert "hook-token" not in logged
