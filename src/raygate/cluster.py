"""Joining Ray from raygate's commands: $RAY_ADDRESS's cluster or a local one, quietly."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

from raygate.errors import ClusterError


def ensure_ray() -> None:
    """Join $RAY_ADDRESS's cluster, or start a local one, unless Ray is already up. An empty
    RAY_ADDRESS means a local one, as Ray itself reads it; a cluster that cannot be joined is
    one ClusterError that says what to do, never a traceback."""
    address = os.environ.get("RAY_ADDRESS") or None
    if address is None:
        os.environ.pop("RAY_ADDRESS", None)  # Ray reads the variable itself too
        if _stopped_ray_start() is not None:
            address = "local"  # not the stopped cluster Ray would retry for minutes
    _init(
        address,
        "start it (ray start --head), fix the address, or unset RAY_ADDRESS to run on a local Ray",
        include_dashboard=False,
        logging_level="WARNING",
        configure_logging=True,
        # stdout is the command's (one JSON document with --json): Ray would print its
        # workers' and raylets' lines there; an actor's failure comes back as an error anyway
        log_to_driver=False,
    )


def join_running_cluster() -> None:
    """Join the running cluster ($RAY_ADDRESS, else the local one `ray start` or `raygate
    demo` started) and never start one: the canary is judged where it is served."""
    address = os.environ.get("RAY_ADDRESS") or None
    stopped = None if address else _stopped_ray_start()
    if stopped is not None:  # Ray's "auto" would retry that address for minutes
        running = sorted(_running_clusters())
        if len(running) != 1:
            found = f"{len(running)} Ray clusters run here ({', '.join(running) or 'none'})"
            raise ClusterError(
                f"{found} and the last `ray start` ({stopped}) has stopped; set RAY_ADDRESS "
                "to the cluster that serves the model (`raygate serve up CONFIG` deploys there)"
            )
        address = running[0]
    _init(
        address or "auto",
        "start serving with `raygate serve up CONFIG` on a running cluster, or set RAY_ADDRESS",
        logging_level="ERROR",
        log_to_driver=False,
    )


def _stopped_ray_start() -> str | None:
    """The address the last `ray start` on this machine left behind (Ray's
    ray_current_cluster file) when no Ray process here serves it any more, else None."""
    from ray._private import services

    last = services.find_bootstrap_address(None)
    return last if last and last not in _running_clusters() else None


def _running_clusters() -> frozenset[str]:
    """GCS addresses of the Ray clusters with a node on this machine."""
    from ray._private import services

    return frozenset(services.find_gcs_addresses())


def require_serve() -> None:
    """Refuse to judge on a cluster that runs no Serve: the routers feed the canary's
    in-cluster judge only on their own cluster, so one elsewhere would wait on no traffic."""
    import ray
    from ray.serve._private.constants import SERVE_CONTROLLER_NAME, SERVE_NAMESPACE

    try:
        ray.get_actor(SERVE_CONTROLLER_NAME, namespace=SERVE_NAMESPACE)
    except ValueError:
        address = ray.get_runtime_context().gcs_address
        raise ClusterError(
            f"the Ray cluster this command joined ({address}) runs no Serve app, so no traffic "
            "would reach the canary's judge; set RAY_ADDRESS to the cluster that serves the "
            "model (where `raygate serve up` deployed it), or judge on Prometheus (--prometheus)"
        ) from None


@contextlib.contextmanager
def quiet_token_auth_notice() -> Iterator[None]:
    """Hold back Ray's "Token authentication is enabled for this Ray cluster" warning, which
    every process that finds this machine's Ray token prints, a command that only joins or
    talks to a cluster too."""
    logger = logging.getLogger("ray._private.authentication.authentication_token_setup")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def commands_sigterm_kept() -> Iterator[None]:
    """Around ray.init: Ray's driver sets SIGTERM to exit at once; a raygate command's own
    handler (it stops as Ctrl-C does: cli.output.sigterm_as_ctrl_c) is put back."""
    on_sigterm = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if getattr(on_sigterm, "raygate_sigterm", False):
            signal.signal(signal.SIGTERM, on_sigterm)


def _published_errors_to_debug_log() -> None:
    """Ray's driver prints every error its tasks and actors publish (a retried actor's whole
    traceback, each time) on stdout, whatever log_to_driver says. stdout is the command's own,
    and raygate ends on such a failure itself in one line saying what to fix, so each goes to
    the `raygate.ray` debug log instead (Ray's session logs keep the tracebacks)."""
    from ray._private import worker

    print_to_stdstream = getattr(worker, "print_to_stdstream", None)  # Ray's private API
    if print_to_stdstream is None or getattr(print_to_stdstream, "raygate_quiet", False):
        return

    def published_errors_logged(data: dict, ignore_prefix: bool) -> None:
        if data.get("pid") != "raylet":  # what its error listener publishes
            print_to_stdstream(data, ignore_prefix)
            return
        for line in data.get("lines", []):
            logging.getLogger("raygate.ray").debug("%s", str(line).split("\n", 1)[0])

    published_errors_logged.raygate_quiet = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = published_errors_logged


def _init(address: str | None, hint: str, **options) -> None:
    """ray.init unless Ray is already up; a failure is one ClusterError ending in `hint`."""
    import ray

    _published_errors_to_debug_log()
    if ray.is_initialized():
        return
    if address not in (None, "auto", "local"):
        _check_listening(address, hint)
    try:
        with quiet_token_auth_notice(), commands_sigterm_kept():
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        auth = (
            "; a cluster with token auth (Ray's default) also needs RAY_AUTH_MODE=token and "
            "RAY_AUTH_TOKEN (`ray get-auth-token` on its head node prints it)"
            if isinstance(exc, ConnectionError) and not os.environ.get("RAY_AUTH_TOKEN")
            else ""
        )
        raise ClusterError(
            f"cannot join the Ray cluster at RAY_ADDRESS={address!r} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); {hint}{auth}"
        ) from None


def _check_listening(address: str, hint: str, timeout_s: float = 5.0) -> None:
    """A ClusterError at once when nothing accepts a connection at a host:port address
    (`ray://` ones too): Ray would retry it for about ten minutes before failing."""
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number: Ray's own error says so
        return
    if host is None or port is None:
        return
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        reason = (f"no answer in {timeout_s:g} s" if isinstance(exc, TimeoutError)
                  else exc.strerror or type(exc).__name__)  # fmt: skip
        raise ClusterError(
            f"cannot join the Ray cluster at RAY_ADDRESS={address!r}: nothing accepts a "
            f"connection at {host}:{port} ({reason}); {hint}"
        ) from None


def quiet_ray_data() -> None:
    """No progress bars or per-dataset INFO lines: raygate draws its own progress."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    # Ray's default, said explicitly: while it is unset Ray Data warns, on the command's
    # terminal, that a column of mixed types (a gold set's list field) is kept as Python objects.
    context.enable_fallback_to_arrow_object_ext_type = True
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    # Ray Data warns on every first run that the bars are off; that is the point here.
    logging.getLogger("ray.data._internal.progress").addFilter(_not_bars_disabled)
    # An actor pool that did not start in time (capacity.py) and an actor whose process died
    # on every retry of its batch (evaluation/runner.py) are explained by raygate, not as
    # stack traces of "Ray Data or Ray Core internal code".
    for name in ("ray.data.exceptions", "ray.data._internal.execution.streaming_executor_state"):
        logging.getLogger(name).addFilter(_not_explained_by_raygate)


def _not_bars_disabled(record: logging.LogRecord) -> bool:
    return "Progress bars disabled" not in record.getMessage()


def _not_explained_by_raygate(record: logging.LogRecord) -> bool:
    from ray.exceptions import ActorDiedError, GetTimeoutError

    # Ray Data logs from inside its `except` block: the exception being handled is the one
    handled = record.exc_info[1] if record.exc_info else sys.exc_info()[1]
    return not isinstance(handled, GetTimeoutError | ActorDiedError)
