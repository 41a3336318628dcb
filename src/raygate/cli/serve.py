"""`raygate serve`: deploy the champion/canary app to Ray Serve and steer it at run time."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from raygate.cli.output import (
    JSON_OPTION,
    console,
    emit_json,
    err_console,
    handles_errors,
    working,
)
from raygate.cli.percents import percent as parse_percent

app = typer.Typer(
    help="Serve champion and canary on Ray Serve; change the split without restarts.",
    no_args_is_help=True,
)
ADDRESS_OPTION = typer.Option(
    None,
    "--address",
    help="Ray dashboard URL (default: $RAY_DASHBOARD_ADDRESS or http://127.0.0.1:8265).",
)

SPLIT_OPTION = typer.Option(
    None,
    "--split",
    envvar="RAYGATE_SPLIT",
    help="A split file (deploy/k8s/split.gateway.yaml): move a Gateway API HTTPRoute's "
    "weights between two clusters' Serve apps instead of raygate's router at --address.",
)

WAIT_OPTION = typer.Option(
    300, "--wait", help="Seconds to wait until every replica has applied the change; 0: don't."
)


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
    """Deploy CONFIG, or update a running app in place; the config is validated and each
    variant's models:/ URI resolved in the registry first, so nothing is deployed that cannot
    load."""
    from raygate.registry.mlflow_registry import MlflowRegistry
    from raygate.serving.control import check_models_resolve, load_serve_config

    serve_config = load_serve_config(config)  # bad input is reported before Ray is reached
    check_models_resolve(serve_config, MlflowRegistry())  # and models that cannot load
    control = _control(address)
    _report(_settled(control, control.up(serve_config), wait_s, as_json), as_json)


@app.command("status")
@handles_errors
def status(address: str | None = ADDRESS_OPTION, as_json: bool = JSON_OPTION) -> None:
    """The app's status, each deployment's replicas and settings, the canary share, and the
    version each model replica serves (read from the cluster: set RAY_ADDRESS off-cluster)."""
    status = _control(address).status()
    _report(_with_replica_versions(status), as_json)


@app.command("weight")
@handles_errors
def weight(
    percent: float = typer.Argument(
        ..., parser=parse_percent, metavar="PERCENT", help="Canary share: 0-100, as 5 or 5%."
    ),
    address: str | None = ADDRESS_OPTION,
    split: Path | None = SPLIT_OPTION,
    wait_s: float = WAIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Send PERCENT % of traffic to the canary (sticky per user); no replica restarts. With
    --split, the HTTPRoute's weights instead, once its Gateways accepted them."""
    if split is not None:
        _gateway_weight(split, percent, wait_s, as_json)
        return
    control = _control(address)
    _report(_settled(control, control.set_weight(percent), wait_s, as_json), as_json)


def _gateway_weight(split: Path, percent: float, wait_s: float, as_json: bool) -> None:
    from raygate.serving.gateway import GatewaySplitControl, load_split

    control = GatewaySplitControl(load_split(split), wait_s)
    with working("waiting until the route's Gateways accepted the weights", as_json):
        state = control.set_weight(percent, wait=wait_s > 0)
    if as_json:
        emit_json(state)
        return
    accepted = "accepted by its Gateways" if state["accepted"] else "not yet accepted"
    console.print(
        f"HTTPRoute {state['route']}: champion {state['champion_weight']}, canary "
        f"{state['canary_weight']} ({state['canary_percent']:g} %), {accepted}",
        highlight=False,
    )


@app.command("refresh")
@handles_errors
def refresh(
    variant: str = typer.Argument("champion", help="champion or canary."),
    address: str | None = ADDRESS_OPTION,
    wait_s: float = WAIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Make VARIANT re-resolve its alias after `registry alias` or `registry rollback`;
    requests keep being answered while the new version loads. A version its replicas cannot
    load is an error (they keep serving the one they had)."""
    control = _control(address)
    change_id = control.refresh(variant)
    status = _settled(control, change_id, wait_s, as_json)
    if wait_s > 0 and (unchecked := control.check_loaded(status, variant, change_id)):
        err_console.print(f"warning: {unchecked}", highlight=False)
    _report(status, as_json)


@app.command("down")
@handles_errors
def down(address: str | None = ADDRESS_OPTION) -> None:
    """Delete the raygate app (other Serve apps keep running)."""
    _control(address).down()
    console.print("raygate app deleted")


def _settled(control, change_id: str, wait_s: float, as_json: bool) -> dict:
    """The status once every deployment the change touched runs it (every replica
    reconfigured and healthy), or at once with --wait 0."""
    if wait_s <= 0:
        return control.status()
    with working("waiting until every replica has applied the change", as_json):
        return control.wait_applied(change_id, wait_s)


def _with_replica_versions(status: dict) -> dict:
    """Each model deployment's replicas with the version each serves, and a warning where
    one variant's replicas disagree; unknown (with why) when the cluster cannot be joined."""
    from raygate.cluster import join_running_cluster
    from raygate.errors import ClusterError
    from raygate.serving import replica_versions
    from raygate.serving.settings import ROUTER_DEPLOYMENT

    models = {
        name: d["replica_ids"] for name, d in status["deployments"].items()
        if name != ROUTER_DEPLOYMENT
    }  # fmt: skip
    try:
        join_running_cluster()
        entries = replica_versions.read(status["application"], models)
    except ClusterError as exc:
        status["replica_versions_unknown"] = str(exc)
        return status
    for name, ids in models.items():
        deployment = status["deployments"][name]
        deployment["replica_versions"] = {i: entries.get(i) for i in ids}
        deployment["mixed_versions"] = replica_versions.mixed_versions(
            [entries.get(i) for i in ids]
        )
    return status


def _report(status: dict, as_json: bool) -> None:
    if as_json:
        emit_json(status)
        return
    split = (f"canary {status['canary_percent']:g} %" if "canary" in status["deployments"]
             else "no canary")  # fmt: skip
    console.print(f"[bold]{status['application']}[/]: {status['status']} · {split}",
                  highlight=False)  # fmt: skip
    table = Table(title_justify="left")
    for column in ("deployment", "status", "replicas", "model / settings"):
        table.add_column(column)
    for name, deployment in status["deployments"].items():
        settings = deployment.get("user_config") or {}
        shown = settings.get("model_uri") or ", ".join(
            f"{k}={v}" for k, v in settings.items() if k != "change_id"
        )
        table.add_row(name, str(deployment["status"]), str(deployment["replicas"]), shown)
        for replica_id, entry in (deployment.get("replica_versions") or {}).items():
            served = (
                f"{entry['model_id']} (revision {entry.get('revision')})"
                if entry else "[yellow]no model loaded yet[/]"
            )  # fmt: skip
            if entry and entry.get("load_error"):
                served += f" [red](the version asked failed: {escape(entry['load_error'])})[/]"
            table.add_row(f"  └ {replica_id}", "", "", served)
    console.print(table)
    for name, deployment in status["deployments"].items():
        if deployment.get("mixed_versions"):
            console.print(
                f"[yellow]warning:[/] {name}: {escape(str(deployment['mixed_versions']))}"
            )
    if status.get("replica_versions_unknown"):
        console.print(
            f"replica versions unknown: {status['replica_versions_unknown']}", highlight=False
        )
    if status.get("message"):
        console.print(status["message"], highlight=False)
