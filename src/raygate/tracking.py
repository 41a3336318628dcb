"""Where MLflow lives: tracking/registry URI (default: SQLite under RAYGATE_HOME) and experiment."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from raygate.constants import (
    DEFAULT_EXPERIMENT,
    DEFAULT_HOME,
    ENV_EXPERIMENT,
    ENV_HOME,
    ENV_MLFLOW_TRACING,
)
from raygate.errors import TrackingError


def raygate_home() -> Path:
    """Local work directory for the embedded default: $RAYGATE_HOME or ./.raygate."""
    return Path(os.environ.get(ENV_HOME, DEFAULT_HOME)).resolve()


def tracking_uri() -> str:
    """$MLFLOW_TRACKING_URI, or a SQLite store under the work directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{raygate_home() / 'mlflow.db'}"


def without_credentials(uri: str) -> str:
    """A store URI fit for a message: any user and password in it (postgresql://user:pw@…,
    https://user:token@…) left out."""
    parts = urlsplit(uri)
    if parts.hostname is None or "@" not in parts.netloc:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=host))


def configure_mlflow() -> str:
    """Point MLflow at raygate's store and experiment; returns the tracking URI.

    With a SQLite store, artifacts go beside the database rather than into ./mlruns of
    whatever directory the command ran in.
    """
    import mlflow

    # raygate runs offline and prices from its own table: MLflow's tracing would otherwise
    # fetch a model catalog from github.com for every `gen_ai.request.model` it sees.
    os.environ.setdefault("MLFLOW_MODEL_CATALOG_URI", "")
    uri = tracking_uri()
    location, first_use = None, contextlib.nullcontext()
    if uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///")).resolve()
        database.parent.mkdir(parents=True, exist_ok=True)
        location = (database.parent / "artifacts").as_uri()
        first_use = _one_process_at_a_time(database.with_name(database.name + ".lock"))
    elif uri.startswith(("http://", "https://")):
        check_reachable(uri)
    else:
        check_database_reachable(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    name = os.environ.get(ENV_EXPERIMENT, DEFAULT_EXPERIMENT)
    with first_use:  # the first touch creates or migrates the store's tables
        try:
            experiment = mlflow.get_experiment_by_name(name)
        except ModuleNotFoundError as exc:  # SQLAlchemy imports the database's driver here
            package = _DRIVER_PACKAGES.get(exc.name or "", exc.name)
            raise TrackingError(
                f"the store {without_credentials(uri)} needs the database driver '{exc.name}', "
                f"which is not installed here: `pip install {package}`"
            ) from None
        if experiment is None:
            _create_experiment(name, location)
    mlflow.set_experiment(name)
    return uri


def mute_model_tracing() -> None:
    """Turn MLflow's own tracing off in a process that answers requests or gold rows with a
    loaded model (a serving replica, an eval worker): MLflow traces every call of a
    ResponsesAgent or ChatAgent (and of anything `@mlflow.trace` or an autolog wraps in a
    user's model), writing each request's raw text, unredacted, into the tracking store at a
    few milliseconds a call. raygate traces each request itself, redacted (an eval run gets
    those traces in MLflow). RAYGATE_MLFLOW_TRACING=1 keeps MLflow's. Called after a model
    loads, as its loading code may switch tracing on."""
    if os.environ.get(ENV_MLFLOW_TRACING) == "1":
        return
    import mlflow

    mlflow.tracing.disable()


@contextlib.contextmanager
def _one_process_at_a_time(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_file`: MLflow's schema setup of a new SQLite store is
    not safe to run from two processes at once ('table … already exists', a traceback)."""
    import fcntl

    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _create_experiment(name: str, location: str | None) -> None:
    """Create the experiment, unless another process just did."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        mlflow.create_experiment(name, artifact_location=location)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


# Database stores MLflow reaches through SQLAlchemy: default port, and the pip package of each
# driver module SQLAlchemy imports for them.
_DATABASE_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
_DRIVER_PACKAGES = {"psycopg": "'psycopg[binary]'", "psycopg2": "psycopg2-binary",
                    "MySQLdb": "mysqlclient", "pymysql": "pymysql", "pyodbc": "pyodbc"}  # fmt: skip


def check_database_reachable(uri: str, connect_timeout_s: float = 5.0) -> None:
    """Raise TrackingError when nothing listens at a database store's address (MLflow's
    engine retries a refused connection for minutes before its traceback)."""
    import socket

    parts = urlsplit(uri)
    default_port = _DATABASE_PORTS.get(parts.scheme.split("+", 1)[0])
    if default_port is None or not parts.hostname:
        return
    try:
        socket.create_connection((parts.hostname, parts.port or default_port),
                                 timeout=connect_timeout_s).close()  # fmt: skip
    except OSError as exc:
        timed_out = isinstance(exc, TimeoutError)
        reason = f"no answer in {connect_timeout_s:g} s" if timed_out else exc.strerror or exc
        raise TrackingError(
            f"cannot reach the database of the store {without_credentials(uri)} ({reason}); "
            "check that it is up and the URI's host and port, or unset MLFLOW_TRACKING_URI for "
            "a SQLite store under $RAYGATE_HOME"
        ) from None


def check_reachable(uri: str, connect_timeout_s: float = 5.0) -> None:
    """Raise TrackingError when nothing answers at an MLflow server's address (MLflow's own
    client retries for about four minutes, then fails with a traceback). Any HTTP answer,
    an error status or a TLS problem included, is left to MLflow's client to report."""
    import requests

    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=(connect_timeout_s, 30))
    except (requests.exceptions.SSLError, requests.exceptions.ReadTimeout):
        return
    except requests.exceptions.RequestException as exc:
        if isinstance(exc, requests.exceptions.Timeout):
            reason = f"no answer in {connect_timeout_s:g} s"
        elif "Name or service not known" in str(exc) or "nodename nor servname" in str(exc):
            reason = "unknown host"
        else:
            reason = "connection refused"
        raise TrackingError(
            f"cannot reach the MLflow server at {without_credentials(uri)} ({reason}); start "
            "it (`mlflow server`), or point MLFLOW_TRACKING_URI at a running one (unset, "
            "raygate uses a SQLite store under $RAYGATE_HOME)"
        ) from None


def mlflow_error_message(exc: Exception) -> str:
    """An error from MLflow's client as one line, with what to check when the store refused
    the credentials."""
    message = f"MLflow: {exc}"
    if "error code 401" in message or "error code 403" in message:
        message += ("; check the credentials MLflow sends: MLFLOW_TRACKING_TOKEN, or "
                    "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD")  # fmt: skip
    return message
