"""raygate's app in Ray Serve's high-throughput mode (RAY_SERVE_ENABLE_HA_PROXY=1 and
RAY_SERVE_THROUGHPUT_OPTIMIZED=1): the router replica serves HTTP itself, HAProxy in front of
it instead of Serve's Python proxy, gRPC between replicas; auth, answers, streaming through the
official openai client and weight changes work as before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DRIVER = Path(__file__).with_name("haproxy_driver.py")


def test_the_app_behind_haproxy_answers_streams_refuses_and_follows_its_weight():
    done = subprocess.run([sys.executable, str(DRIVER)], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "HAProxyManager" in result["proxy_classes"]
    assert result["port_listeners"] == ["haproxy"]  # the app's port: HAProxy, not Python
    assert result["predict"]["status"] == 200 and result["predict"]["answer"]
    assert result["predict"]["variant"] in ("champion", "canary")
    assert result["no_token"]["status"] == 401
    assert result["no_token"]["body"]["error"]["code"] == "invalid_api_key"
    assert result["health"] == 200
    stream = result["stream"]
    assert stream["text"] == result["predict"]["answer"] and stream["completion_tokens"] > 0
    assert result["variants_at_weight_0"] == ["champion"]
