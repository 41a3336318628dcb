"""A Prometheus that asks for credentials (basic auth, as Debian's Prometheus does with a web
config; a bearer token, as an authenticating proxy in front of one does): the canary judge's
provider sends them, says which were refused, and never shows them."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from urllib.parse import quote

import pytest

from raygate.canary.prometheus import PrometheusProvider
from raygate.errors import ConfigError
from raygate.testing import http_server, send_json
from tests.integration.conftest import prometheus_server, wait_for

PASSWORD = "pa:ss@w0rd/7f3a"  # characters a URL must escape


def _holds_ray_metrics(provider: PrometheusProvider) -> bool:
    try:
        provider.check()
    except ConfigError as exc:
        assert "holds no Ray metrics" in str(exc), exc  # not scraped yet: anything else fails
        return False
    return True


def test_a_prometheus_behind_basic_auth_is_read_with_the_urls_credentials(local_ray, tmp_path):
    import ray

    port = ray._private.worker.global_worker.node.metrics_export_port
    config = (
        "global: {scrape_interval: 2s, scrape_timeout: 2s}\nscrape_configs:\n"
        f"  - job_name: ray\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    with prometheus_server(tmp_path, config, password=PASSWORD) as url:
        host = url.removeprefix("http://")
        good = PrometheusProvider(f"http://raygate:{quote(PASSWORD, safe='')}@{host}")
        assert good.url == url  # what messages name
        wait_for(lambda: _holds_ray_metrics(good), 60, "Prometheus to hold Ray's metrics")
        for refused_url in (url, f"http://raygate:wrong-{quote(PASSWORD, safe='')}@{host}"):
            with pytest.raises(ConfigError, match=r"refused raygate \(HTTP 401\)") as refused:
                PrometheusProvider(refused_url).check()
            assert "RAYGATE_PROMETHEUS_TOKEN" in str(refused.value)
            assert PASSWORD not in str(refused.value) and "wrong" not in str(refused.value)


@pytest.fixture
def token_proxy() -> Iterator[str]:
    """A stand-in for an authenticating proxy: answers Prometheus's query API (one Ray series)
    only to `Authorization: Bearer right-token`, else 401."""

    class Proxy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") != "Bearer right-token":
                status, body = 401, {"status": "error", "error": "unauthorized"}
            else:
                sample = {"metric": {}, "value": [0, "1"]}
                status = 200
                body = {"status": "success", "data": {"resultType": "vector", "result": [sample]}}
            send_json(self, status, body)

        def log_message(self, *args) -> None:
            pass

    with http_server(Proxy) as url:
        yield url


def test_a_bearer_token_is_sent_and_a_refused_one_is_named_not_shown(token_proxy):
    PrometheusProvider(token_proxy, token="right-token").check()
    with pytest.raises(ConfigError, match=r"HTTP 401.*RAYGATE_PROMETHEUS_TOKEN_FILE") as refused:
        PrometheusProvider(token_proxy, token="wrong-token").check()
    assert "wrong-token" not in str(refused.value)
