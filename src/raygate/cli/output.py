"""CLI plumbing shared by every command: one-line errors, JSON on stdout, quiet libraries."""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, redirect_stdout
from typing import Any, ParamSpec, TextIO, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from raygate.errors import RaygateError
from raygate.tracking import mlflow_error_message

P = ParamSpec("P")
R = TypeVar("R")

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout, nothing else.")


def quiet_libraries() -> None:
    """Keep MLflow's and Ray's chatter off the terminal; warnings still show."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is imported
    for name in ("alembic", "ray"):
        logging.getLogger(name).setLevel(logging.WARNING)


# Where emit_json writes while a `--json` command runs: the stdout it was started with.
_document_stream: TextIO | None = None


@contextmanager
def stdout_kept_for_the_document() -> Iterator[None]:
    """Send everything else printed to stdout to stderr, so `--json` stdout is one document.

    Ray's driver prints what the cluster publishes (a raylet's worker-pool warning) to
    `sys.stdout` from its own thread whatever `log_to_driver` says, and a user's model may
    print while it loads: both land on stderr while the command runs.
    """
    global _document_stream
    _document_stream = sys.stdout
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        _document_stream = None


_terminated = threading.Event()


def _interrupt(signum: int, frame: object) -> None:
    _terminated.set()
    raise KeyboardInterrupt


_interrupt.raygate_sigterm = True  # type: ignore[attr-defined]  # cluster.commands_sigterm_kept


def interrupted_status() -> int:
    """The exit status of a command stopped by Ctrl-C (130) or SIGTERM (143), as shells say."""
    return 128 + (signal.SIGTERM if _terminated.is_set() else signal.SIGINT)


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (`kill`, Kubernetes or systemd stopping the command, `timeout`) ends a command
    as Ctrl-C does: it says what it left (an eval's run marked KILLED, a load test's figures
    so far, a release resumable), exit status 143."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _terminated.clear()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a RaygateError, or an error from MLflow's client, into `error: …` on stderr and
    exit status 2, never a traceback; Ctrl-C (and SIGTERM) into `interrupted: …` (what was
    left, as the KeyboardInterrupt re-raised by the work says) and exit status 130 (143);
    keep a `--json` command's stdout for its document."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        as_json = bool(kwargs.get("as_json"))
        try:
            with sigterm_as_ctrl_c(), stdout_kept_for_the_document() if as_json else nullcontext():
                return command(*args, **kwargs)
        except KeyboardInterrupt as exc:
            left = str(exc) or "stopped before it finished"
            err_console.print(f"interrupted: {escape(left)}", highlight=False, soft_wrap=True)
            raise typer.Exit(interrupted_status()) from None
        except Exception as exc:
            if not isinstance(exc, RaygateError) and not _is_mlflow_error(exc):
                raise
            message = str(exc) if isinstance(exc, RaygateError) else mlflow_error_message(exc)
            err_console.print(
                f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(2) from None

    return wrapper


def _is_mlflow_error(exc: Exception) -> bool:
    """Whether MLflow's client raised it (a store that refused or failed a request): said in
    one line, as raygate's own errors are, not as a traceback. Imports nothing."""
    exceptions = sys.modules.get("mlflow.exceptions")
    return exceptions is not None and isinstance(exc, exceptions.MlflowException)


def emit_json(document: Any) -> None:
    """Write one JSON document to stdout."""
    text = json.dumps(_finite(document), indent=2, default=str, allow_nan=False)
    typer.echo(text, file=_document_stream or sys.stdout)


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity (Python writes NaN and Infinity, which parsers refuse):
    null, as JavaScript's JSON.stringify writes them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def waiting_note(start_timeout_s: float) -> Callable[[str], None]:
    """Prints, on stderr, that actors wait for resources and how long they may."""
    return lambda note: err_console.print(
        f"note: {note}; waiting up to {start_timeout_s:g} s (--start-timeout)", highlight=False
    )


@contextmanager
def working(message: str, as_json: bool) -> Iterator[None]:
    """A spinner on stderr while long work runs, only for humans at a terminal."""
    show = not as_json and err_console.is_terminal
    with err_console.status(message) if show else nullcontext():
        yield
