"""Webhooks: signed outgoing notifications of a release's steps and endings, and the check of
an incoming signature. Both use MLflow's scheme (HMAC-SHA256 over
`delivery_id.timestamp.body`, sent as `v1,<base64>`), so one receiver verifies either."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import requests
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from raygate.canary.release_state import ReleaseState
from raygate.errors import root_cause
from raygate.tracking import without_credentials

SIGNATURE_VERSION = "v1"
MAX_AGE_S = 300  # older deliveries are refused (replay protection)
log = logging.getLogger("raygate.webhooks")


def sign(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    digest = hmac.new(secret.encode(), f"{delivery_id}.{timestamp}.{body}".encode(),
                      hashlib.sha256).digest()  # fmt: skip
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def verify(
    secret: str,
    delivery_id: str,
    timestamp: str,
    body: str,
    signature: str,
    now: float | None = None,
) -> str | None:
    """None when the delivery is authentic and fresh, else why it is refused."""
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except (TypeError, ValueError):
        return "the timestamp header is missing or not a Unix time"
    if abs(age) > MAX_AGE_S:
        return f"the delivery is {age:.0f} s old (limit {MAX_AGE_S} s): a replay, or a skewed clock"
    expected = sign(secret, delivery_id, timestamp, body)
    if not hmac.compare_digest(expected, signature or ""):
        return "the signature does not match: wrong secret, or the body was changed"
    return None


class WebhookNotifier:
    """POSTs `{"event", "release", "at", ...}` signed with the secret; retried three times, never
    raises (a failed notification is logged and never holds a release up)."""

    def __init__(self, url: str, secret: str, timeout_s: float = 5.0) -> None:
        self.url, self._secret, self._timeout_s = url, secret, timeout_s
        self.delivered = self.failed = 0
        # What logs name: the host, not the path (a Slack-style hook's path is its secret).
        parts = urlsplit(without_credentials(url))
        path = "/…" if parts.path.strip("/") or parts.query else ""
        self.shown = f"{parts.scheme}://{parts.netloc}{path}"

    def __call__(self, event: str, state: ReleaseState, **detail: Any) -> bool:
        body = json.dumps({"event": event, "at": time.time(), "release": state.model_dump(),
                           **detail}, separators=(",", ":"))  # fmt: skip
        try:
            self._post(body, event)
        except requests.RequestException as exc:
            self.failed += 1
            answered = exc.response is not None  # the text of an HTTPError names the whole URL
            reason = f"HTTP {exc.response.status_code}" if answered else root_cause(exc)
            log.warning("webhook %s to %s failed: %s", event, self.shown, reason)
            return False
        self.delivered += 1
        return True

    @retry(retry=retry_if_exception_type(requests.RequestException), stop=stop_after_attempt(3),
           wait=wait_exponential(multiplier=0.2, max=2), reraise=True)  # fmt: skip
    def _post(self, body: str, event: str) -> None:
        delivery_id, timestamp = str(uuid.uuid4()), str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Raygate-Event": event,
            "X-Raygate-Delivery-Id": delivery_id,
            "X-Raygate-Timestamp": timestamp,
            "X-Raygate-Signature": sign(self._secret, delivery_id, timestamp, body),
        }
        response = requests.post(self.url, data=body.encode(), headers=headers,
                                 timeout=self._timeout_s)  # fmt: skip
        response.raise_for_status()
