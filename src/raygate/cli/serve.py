"""`raygate serve`: deploy the champion/canary app to Ray Serve and steer it at run time."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from raygate.cli.output import JSON_OPTION, console, emit_json, handles_errors, working

app = typer.Typer(
    help="Serve champion and canary on Ray Serve; change the split without restarts.",
    no_args_is_help=True,
)
ADDRESS_OPTION = typer.Option(
    None,
    "--address",
    help="Ray dashboard URL (default: $RAY_DASHBOARD_ADDRESS or http://127.0.0.1:8265).",
)

WAIT_OPTION = typer.Option(300, "--wait", help="Seconds to wait for RUNNING; 0: don't.")


def _control(address: str | None):
    from raygate.serving.control import ServeControl

    return ServeControl(address)


@app.command("up")
@handles_errors
def up(
    config: Path = typer.Argument(..., help="Serve config, e.g. serve_configs/canary.yaml."),
    address: str | None = ADDRESS_OPTION,
    wait_s: float = WAIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Deploy CONFIG (validated first), or update a running app in place."""
    from raygate.serving.control import load_serve_config

    serve_config = load_serve_config(config)  # bad input is reported before Ray is reached
    control = _control(address)
    control.up(serve_config)
    _report(_settled(control, wait_s, as_json), as_json)


@app.command("status")
@handles_errors
def status(address: str | None = ADDRESS_OPTION, as_json: bool = JSON_OPTION) -> None:
    """The app's status, each deployment's replicas and settings, and the canary share."""
    _report(_control(address).status(), as_json)


@app.command("weight")
@handles_errors
def weight(
    percent: float = typer.Argument(..., help="Canary share of traffic, 0-100."),
    address: str | None = ADDRESS_OPTION,
    wait_s: float = WAIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Send PERCENT % of traffic to the canary (sticky per user); no replica restarts."""
    control = _control(address)
    control.set_weight(percent)
    _report(_settled(control, wait_s, as_json), as_json)


@app.command("refresh")
@handles_errors
def refresh(
    variant: str = typer.Argument("champion", help="champion or canary."),
    address: str | None = ADDRESS_OPTION,
    wait_s: float = WAIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Make VARIANT re-resolve its alias after `registry alias` or `registry rollback`;
    requests keep being answered while the new version loads."""
    control = _control(address)
    control.refresh(variant)
    _report(_settled(control, wait_s, as_json), as_json)


@app.command("down")
@handles_errors
def down(address: str | None = ADDRESS_OPTION) -> None:
    """Delete the raygate app (other Serve apps keep running)."""
    _control(address).down()
    console.print("raygate app deleted")


def _settled(control, wait_s: float, as_json: bool) -> dict:
    """The status once every deployment has applied the change (or the wait is over)."""
    from raygate.errors import ServeError

    time.sleep(min(wait_s, 1.0))  # let Serve's controller pick the change up first
    status = control.status()
    deadline = time.monotonic() + wait_s
    with working("waiting for the app to be RUNNING", as_json):
        while not _settled_status(status) and time.monotonic() < deadline:
            time.sleep(1)
            status = control.status()
    if status["status"] == "DEPLOY_FAILED":
        raise ServeError(f"deploy failed: {status['message'] or _first_message(status)}")
    return status


def _settled_status(status: dict) -> bool:
    if status["status"] == "DEPLOY_FAILED":
        return True
    return status["status"] == "RUNNING" and all(
        d["status"] == "HEALTHY" for d in status["deployments"].values()
    )


def _first_message(status: dict) -> str:
    messages = [d["message"] for d in status["deployments"].values() if d.get("message")]
    return messages[0] if messages else "see `ray` logs under /tmp/ray/session_latest/logs/serve"


def _report(status: dict, as_json: bool) -> None:
    if as_json:
        emit_json(status)
        return
    console.print(
        f"[bold]{status['application']}[/]: {status['status']} · canary "
        f"{status['canary_percent']:g} %",
        highlight=False,
    )
    table = Table(title_justify="left")
    for column in ("deployment", "status", "replicas", "model / settings"):
        table.add_column(column)
    for name, deployment in status["deployments"].items():
        settings = deployment.get("user_config") or {}
        shown = settings.get("model_uri") or ", ".join(f"{k}={v}" for k, v in settings.items())
        table.add_row(name, str(deployment["status"]), str(deployment["replicas"]), shown)
    console.print(table)
    if status.get("message"):
        console.print(status["message"], highlight=False)
