"""Integration fixtures: one real MLflow SQLite store per session, one agent built in it."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from raygate.config import load_agent_config
from raygate.packaging.build import BuiltAgent, log_agent_model
from raygate.testing import free_port

AGENTS = Path(__file__).resolve().parents[2] / "agents"


@pytest.fixture(scope="session")
def raygate_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """RAYGATE_HOME pointing at a fresh folder; MLflow's store is SQLite inside it."""
    home = tmp_path_factory.mktemp("raygate-home")
    saved = {k: os.environ.get(k) for k in ("RAYGATE_HOME", "MLFLOW_TRACKING_URI")}
    os.environ["RAYGATE_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def built_v1(raygate_home: Path) -> BuiltAgent:
    """agents/v1.yaml logged once for the whole session."""
    return log_agent_model(load_agent_config(AGENTS / "v1.yaml"))


@pytest.fixture
def registry(raygate_home: Path):
    from raygate.registry.mlflow_registry import MlflowRegistry

    return MlflowRegistry()


@pytest.fixture
def model_name(request: pytest.FixtureRequest) -> str:
    """A registered-model name unique to the test, so tests never share aliases."""
    return "m-" + request.node.name.replace("[", "-").replace("]", "")[:60]


@pytest.fixture(scope="session")
def local_ray(raygate_home: Path) -> Iterator[str]:
    """One local Ray for the whole session; 4 logical CPUs so two eval actors never starve.
    Its workers inherit RAYGATE_HOME, so their telemetry lands in the session's folder.
    Yields its dashboard URL (Serve's REST API, used by `raygate serve`)."""
    import ray

    context = ray.init(
        num_cpus=4,
        _metrics_export_port=free_port(),
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        dashboard_port=free_port(),
        logging_level="WARNING",
    )
    yield f"http://{context.dashboard_url}"
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_gold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two dev rows of each category: a gold file small enough for many eval runs."""
    from raygate.goldset import load_goldset

    rows, seen = [], {}
    for row in load_goldset("dev").rows:
        if seen.get(row.category, 0) < 2:
            seen[row.category] = seen.get(row.category, 0) + 1
            rows.append(row.model_dump_json(exclude_none=True))
    path = tmp_path_factory.mktemp("gold") / "tiny.jsonl"
    path.write_text("\n".join(rows) + "\n")
    return path


def log_code_model(
    tmp_path: Path,
    source: str,
    artifacts: dict[str, str] | None = None,
    signature=None,
    metadata: dict | None = None,
) -> str:
    """Log a user-written pyfunc (models-from-code), with optional artifacts, signature and
    MLmodel metadata; its URI."""
    import mlflow

    from raygate.tracking import configure_mlflow

    configure_mlflow()
    entry = tmp_path / "user_model.py"
    entry.write_text(source)
    with mlflow.start_run(run_name="user-model"):
        info = mlflow.pyfunc.log_model(
            name="model", python_model=str(entry), pip_requirements=["mlflow"],
            artifacts=artifacts, signature=signature, metadata=metadata,
        )  # fmt: skip
    return info.model_uri


@pytest.fixture(scope="module")
def prometheus(local_ray: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus (Debian's package) scraping the local Ray's metrics port every
    5 s, with raygate's alert and recording rules loaded; yields its URL. Not every second:
    a scrape's timeout is at most its interval, Ray's page (every worker's series) took up
    to 0.6 s in one module's run on a 2-core host and grows through the suite, and a scrape
    that times out marks every series stale (a CI run's judge test then saw no counts)."""
    import ray

    rules = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yaml"
    metrics_port = ray._private.worker.global_worker.node.metrics_export_port
    config = (
        "global: {scrape_interval: 5s, scrape_timeout: 5s, evaluation_interval: 1s}\n"
        f"rule_files: ['{rules}']\n"
        "scrape_configs:\n"
        f"  - job_name: ray\n    static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n"
    )
    with prometheus_server(tmp_path_factory.mktemp("prometheus"), config) as url:
        yield url


@contextlib.contextmanager
def prometheus_server(folder: Path, config: str, password: str | None = None) -> Iterator[str]:
    """Debian's Prometheus with this config, its data in `folder`, until the block ends;
    yields its URL. With a password, it asks for basic auth (user `raygate`)."""
    import shutil
    from urllib.parse import quote

    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: run `make test` (it installs Debian's package)"
    (folder / "prometheus.yml").write_text(config)
    host = f"127.0.0.1:{free_port()}"
    command = [binary, f"--config.file={folder / 'prometheus.yml'}",
               f"--storage.tsdb.path={folder / 'data'}",
               f"--web.listen-address={host}"]  # fmt: skip
    ready = f"http://{host}/-/ready"
    if password is not None:
        import bcrypt

        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        (folder / "web.yml").write_text(f"basic_auth_users:\n  raygate: '{hashed}'\n")
        command.append(f"--web.config.file={folder / 'web.yml'}")
        ready = f"http://raygate:{quote(password, safe='')}@{host}/-/ready"
    with running_server(command, folder / "prometheus.log", ready, 60):
        yield f"http://{host}"


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory) -> Iterator[str]:
    """A real `mlflow server` (SQLite, local artifact root, artifacts proxied over HTTP) on
    127.0.0.1, allowed to deliver webhooks to http receivers on this machine; its URL."""
    import sys

    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {**os.environ, "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
           "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true", "MLFLOW_WEBHOOK_CACHE_TTL": "1"}  # fmt: skip
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
               f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination",
               str(folder / "art"), "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1"]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with running_server(command, folder / "server.log", f"{url}/health", 120, env):
        yield url


@contextlib.contextmanager
def running_server(
    command: list[str], log_path: Path, health_url: str, timeout_s: float, env=None
) -> Iterator[None]:
    """Run a server process until the block ends (stopped by its pid); enter once its health
    URL answers 200, failing with its log's tail if it dies or is not ready in time."""
    import subprocess

    import requests

    log = log_path.open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def ready() -> bool:
        assert process.poll() is None, log_path.read_text()[-3000:]
        try:
            return requests.get(health_url, timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(ready, timeout_s, f"{command[0]} at {health_url}")
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def wait_for(predicate, timeout_s: float, what: str):
    """Poll until predicate() is truthy and return it; an AssertionError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
