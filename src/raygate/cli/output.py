"""CLI plumbing shared by every command: one-line errors, JSON on stdout, quiet libraries."""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from raygate.errors import RaygateError

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


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a RaygateError into `error: …` on stderr and exit status 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except RaygateError as exc:
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(2) from None

    return wrapper


def emit_json(document: Any) -> None:
    """Write one JSON document to stdout."""
    typer.echo(json.dumps(document, indent=2, default=str))


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
