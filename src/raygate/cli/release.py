"""`raygate canary start|status|pause|resume|abort`, `raygate promote`, `raygate rollback`,
`raygate release`: run a live canary to its end, steer it, or do the whole playbook."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from raygate.cli.canary import DECISION_COLORS, POLICY_OPTION, VERDICT_COLORS
from raygate.cli.canary import app as canary_app
from raygate.cli.output import JSON_OPTION, console, emit_json, err_console, handles_errors
from raygate.cli.serve import ADDRESS_OPTION, SPLIT_OPTION
from raygate.policy_files import default_help, policy_file

NAME_ARGUMENT = typer.Argument(..., help="Registered model name, e.g. reference-agent.")
PROMETHEUS_OPTION = typer.Option(
    None,
    "--prometheus",
    envvar="RAYGATE_PROMETHEUS_URL",
    help="Judge on this Prometheus (URL) instead of the in-cluster aggregator; coarser: "
    "histogram buckets, no output tokens, ~20 s behind. Needed with a gateway --split.",
)
PHASE_COLORS = {"promoted": "green", "rolled_back": "red", "aborted": "red", "halted": "yellow",
                "running": "cyan", "promoting": "cyan", "rolling_back": "cyan"}  # fmt: skip


GATES_OPTION = typer.Option(None, "--gates", help=f"Gate policy ({default_help('gates')}).")
ROLLOUT_OPTION = typer.Option(
    None, "--rollout", help=f"Rollout policy ({default_help('rollout')})."
)


APPLY_WAIT_OPTION = typer.Option(
    300,
    "--wait",
    min=1,
    help="Seconds each serving change may take to apply (a variant loading a new version "
    "included) before the release stops; raise it for models that load slowly.",
)
DECIDE_WAIT_OPTION = typer.Option(
    300,
    "--wait",
    min=1,
    help="Seconds to wait for a running release to act, or for serving to apply the change.",
)


def _policy(path: Path | None):
    from raygate.canary.policy import load_rollout_policy

    return load_rollout_policy(path)


def _policies(gates: Path | None, rollout: Path | None):
    """A release's gate policy and rollout policy, each read and checked."""
    from raygate.gates.policy import load_policy

    return load_policy(gates), _policy(rollout)


def print_look(state, look: dict[str, Any]) -> None:
    """One line per look: step and weight, requests so far, each metric's verdict."""
    verdicts = " ".join(
        f"{m['metric']} [{VERDICT_COLORS[m['verdict']]}]{m['verdict']}[/]"
        + (f" ×{m['evidence']['ratio']:.2f}" if m["evidence"].get("ratio") is not None else "")
        for m in look.get("metrics", [])
    )
    counts = (
        f"canary {look['canary_requests']} / champion {look['champion_requests']} req"
        if "canary_requests" in look
        else f"[yellow]measurement error[/]: {look.get('error')}"
    )
    if look.get("canary_requests") == look.get("champion_requests") == 0:
        counts += " [yellow](no traffic reaches the app yet)[/]"
    err_console.print(
        f"look {look['look']:>3} · step {look['step']} at {look['weight_percent']:g} % · "
        f"{counts} · {verdicts} → [bold]{look['decision']}[/]",
        highlight=False,
    )


def _report(state, as_json: bool, report: Path | None = None) -> None:
    if as_json:
        emit_json({**state.model_dump(), "report": str(report) if report else None})
        return
    color = PHASE_COLORS.get(state.phase, "white")
    console.print(
        f"{state.model_name} v{state.candidate_version} (champion was "
        f"v{state.champion_version}): [bold {color}]{state.phase.upper()}[/] after "
        f"{state.looks} looks — {state.reason}",
        highlight=False,
    )
    if report:
        console.print(f"release report: {report}", highlight=False)


@canary_app.command("start")
@handles_errors
def start(
    name: str = NAME_ARGUMENT,
    version: int | None = typer.Option(
        None, "--version", help="Version to canary (default: the `candidate` alias)."
    ),
    policy: Path | None = POLICY_OPTION,
    address: str | None = ADDRESS_OPTION,
    prometheus: str | None = PROMETHEUS_OPTION,
    split: Path | None = SPLIT_OPTION,
    wait_s: float = APPLY_WAIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Run NAME's canary to its end: ramp the weight step by step, judge canary against
    champion at every look, then promote (flip `champion`) or roll back.

    Resumes the model's unfinished release if there is one (after a crash or Ctrl-C): no
    action is taken twice. Needs the Serve app up (`raygate serve up`) on the Ray cluster at
    $RAY_ADDRESS (or the local one). Exit 0 when promoted, 1 otherwise.
    """
    from raygate import release_runtime as rt
    from raygate.constants import ALIAS_CANDIDATE

    rollout = _policy(policy)
    parts = rt.runtime(address, _note_to(err_console), wait_s, split=split, model_name=name,
                       needs_canary=True)  # fmt: skip
    if version is None:
        active = parts.store.active(name)
        version = (active.candidate_version if active else
                   parts.registry.resolve(name, ALIAS_CANDIDATE).version)  # fmt: skip
    controller = rt.controller(parts, rollout, name, None if as_json else print_look, prometheus)
    state = controller.begin(name, version)
    if not as_json:
        verb = "resuming" if state.looks else "starting"
        err_console.print(
            f"{verb} release {state.release_id}: {name} v{version} against champion "
            f"v{state.champion_version}, a look every {rollout.analysis_interval_s:g} s "
            f"(policy {policy_file(policy, 'rollout')})",
            highlight=False,
        )
    state = controller.run(state)
    report = rt.publish_report(parts, state, controller.totals)
    _report(state, as_json, report)
    raise typer.Exit(0 if state.phase == "promoted" else 1)


@canary_app.command("status")
@handles_errors
def status(name: str = NAME_ARGUMENT, as_json: bool = JSON_OPTION) -> None:
    """NAME's latest release: phase, step, weight, and each metric's verdict at the last look."""
    from raygate.canary.store import MlflowReleaseStore
    from raygate.errors import ReleaseError

    store = MlflowReleaseStore()
    state = store.latest(name)
    if state is None:
        raise ReleaseError(f"{name} has had no release; start one with `raygate canary start`")
    looks = store.looks(state.release_id)
    if as_json:
        emit_json({**state.model_dump(), "last_look": looks[-1] if looks else None})
        return
    _report(state, False)
    if looks:
        _print_metrics(looks[-1])


def _print_metrics(look: dict[str, Any]) -> None:
    table = Table(show_header=True)
    for column in ("metric", "verdict", "canary", "champion", "ratio bounds", "detail"):
        table.add_column(column)
    for m in look.get("metrics", []):
        e = m["evidence"]
        bounds = (
            f"{_num(e['ratio_lower'])} < r < {_num(e['ratio_upper'])} (limit ×{e['max_ratio']:g})"
        )
        table.add_row(m["metric"], f"[{VERDICT_COLORS[m['verdict']]}]{m['verdict']}[/]",
                      _num(e["canary"]), _num(e["champion"]), bounds, m["detail"])  # fmt: skip
    console.print(f"look {look['look']} at step {look['step']} ({look['weight_percent']:g} %):")
    console.print(table)


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _command(name: str, command: str) -> None:
    from raygate.canary.claim import driver_of
    from raygate.canary.store import MlflowReleaseStore
    from raygate.errors import ReleaseError

    store = MlflowReleaseStore()
    state = store.active(name)
    if state is None:
        raise ReleaseError(f"{name} has no release running; see `raygate canary status {name}`")
    store.send(state.release_id, command)
    sent = f"{command} sent to release {state.release_id} ({name} v{state.candidate_version})"
    if driver_of(store, state.release_id) is not None:
        console.print(f"{sent}; its controller acts on it within seconds")
        return
    console.print(
        f"{sent}; no controller drives it now (stopped or gone), so nothing moves its canary "
        f"from {state.weight_percent:g} %: `raygate canary start {name}` resumes it and takes "
        f"the {command} first (`raygate promote|rollback {name}` decide it here)",
        highlight=False,
    )


@canary_app.command("pause")
@handles_errors
def pause(name: str = NAME_ARGUMENT) -> None:
    """Hold the canary at its current weight: no looks, no steps, until `resume`."""
    _command(name, "pause")


@canary_app.command("resume")
@handles_errors
def resume(name: str = NAME_ARGUMENT) -> None:
    """Continue a paused canary (the traffic seen while paused is judged at the next look)."""
    _command(name, "resume")


@canary_app.command("abort")
@handles_errors
def abort(
    name: str = NAME_ARGUMENT,
    reason: str = typer.Option("aborted by a person", "--reason", help="Kept in the history."),
    address: str | None = ADDRESS_OPTION,
    split: Path | None = SPLIT_OPTION,
    wait_s: float = DECIDE_WAIT_OPTION,
) -> None:
    """End the canary now: no traffic to it, champion left as it is, the candidate tagged
    aborted (its controller does it; a release no controller drives, after Ctrl-C or a
    crash, or one halted undecided, is ended here)."""
    _decide(name, "abort", None, reason, address, split, wait_s)


@handles_errors
def promote(
    name: str = NAME_ARGUMENT,
    version: int | None = typer.Option(
        None, "--version", help="Version to promote (default: the `candidate` alias)."
    ),
    reason: str = typer.Option("promoted by a person", "--reason", help="Kept in the history."),
    address: str | None = ADDRESS_OPTION,
    split: Path | None = SPLIT_OPTION,
    wait_s: float = DECIDE_WAIT_OPTION,
) -> None:
    """Make the candidate champion now: a running release is told to promote (its controller
    does it; one no controller drives, after Ctrl-C or a crash, is promoted here); otherwise
    (a halted release's candidate, or `candidate`) `champion` flips here, the champion
    deployment rolls to it and the canary gets no traffic."""
    _decide(name, "promote", version, reason, address, split, wait_s)


@handles_errors
def rollback(
    name: str = NAME_ARGUMENT,
    reason: str = typer.Option("rolled back by a person", "--reason", help="Kept in history."),
    address: str | None = ADDRESS_OPTION,
    split: Path | None = SPLIT_OPTION,
    wait_s: float = DECIDE_WAIT_OPTION,
) -> None:
    """Undo: a running release is told to roll back (one no controller drives, after Ctrl-C
    or a crash, is rolled back here); a halted one ends rolled back (its canary gets no
    traffic, champion stays); otherwise `champion` returns to the version before its last
    move (idempotent) and the canary gets no traffic."""
    _decide(name, "rollback", None, reason, address, split, wait_s)


def _note_to(target):
    return lambda text: target.print(f"  {text}", highlight=False)


def _decide(name: str, command: str, version: int | None, reason: str, address, split,
            wait_s: float):  # fmt: skip
    from raygate import release_runtime as rt
    from raygate.canary.claim import ControllerClaim, ReleaseDriven
    from raygate.canary.controller import decide_now
    from raygate.constants import ALIAS_CANDIDATE
    from raygate.errors import ReleaseError

    parts = rt.runtime(address, lambda text: console.print(text, highlight=False), wait_s,
                       split=split, model_name=name)  # fmt: skip
    active = parts.store.active(name)
    if active is not None:
        if version is not None and version != active.candidate_version:
            raise ReleaseError(
                f"release {active.release_id} is canarying v{active.candidate_version}, not "
                f"v{version}; end it first (`raygate canary abort {name}`)"
            )
        try:  # no controller drives it (stopped, killed): decided here
            with ControllerClaim(parts.store, active.release_id, name):
                state = parts.store.load(active.release_id) or active
                _report(decide_now(state, command, parts.actions, parts.store, reason), False)
                return
        except ReleaseDriven:  # its controller does it
            pass
        parts.store.send(active.release_id, command)
        deadline = time.monotonic() + wait_s
        while (state := parts.store.load(active.release_id)) is not None and not state.final:
            if time.monotonic() > deadline:
                raise ReleaseError(
                    f"release {active.release_id} has not acted on '{command}' in {wait_s:g} s: "
                    f"is its controller stuck? `raygate canary status {name}` shows its last look"
                )
            time.sleep(1)
        _report(state, False)
        return
    halted = parts.store.latest(name)
    if halted is not None and halted.phase == "halted":
        _report(decide_now(halted, command, parts.actions, parts.store, reason, version), False)
        return
    if command == "abort":
        raise ReleaseError(f"{name} has no release to abort; see `raygate canary status {name}`")
    if command == "promote":
        if version is None:
            version = parts.registry.resolve(name, ALIAS_CANDIDATE).version
        parts.actions.promote(name, version, reason)
    else:
        parts.actions.rollback_champion(name, reason)


@handles_errors
def release(
    config: Path | None = typer.Option(
        None, "--config", help="Release YAML (releases/); a flag given overrides its field."
    ),
    name: str | None = typer.Option(None, "--name", help="Registered model name."),
    model_uri: str | None = typer.Option(None, "--model-uri", help="Model to release."),
    gold: str | None = typer.Option(
        None, "--gold", help="Gold set for the offline eval (default: smoke)."
    ),
    gates: Path | None = GATES_OPTION,
    rollout: Path | None = ROLLOUT_OPTION,
    address: str | None = ADDRESS_OPTION,
    prometheus: str | None = PROMETHEUS_OPTION,
    split: Path | None = SPLIT_OPTION,
    wait_s: float = APPLY_WAIT_OPTION,
    input_map: list[str] = typer.Option(
        [],
        "--input-map",
        metavar="INPUT=FIELD",
        help="Offline eval: fill the model's input INPUT from gold field FIELD (repeatable); "
        "a model whose one text input has another name gets the query anyway.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """The whole playbook for one model, from --config or from --name and --model-uri.

    Eval on the gold set → offline gates → register as `candidate` → live canary → promote or
    roll back. Serving must be up. Exit 0 when promoted, 1 otherwise.
    """
    from raygate import release_runtime as rt
    from raygate.gates.evaluator import MlflowEvaluator, logged_run_tags
    from raygate.packaging.inputs import parse_input_map
    from raygate.release import release_config, run_release

    flags = {"name": name, "model_uri": model_uri, "gold": gold, "gates": gates,
             "rollout": rollout, "input_map": parse_input_map(input_map) or None}  # fmt: skip
    spec = release_config(config, flags)
    gate_policy, rollout_policy = _policies(spec.gates, spec.rollout)
    parts = rt.runtime(address, _note_to(err_console), wait_s, split=split,
                       model_name=spec.name, needs_canary=True)  # fmt: skip
    controller = rt.controller(
        parts, rollout_policy, spec.name, None if as_json else print_look, prometheus
    )
    evaluator = MlflowEvaluator(parts.registry, gate_policy, input_map=spec.input_map,
                                on_wait=_note_to(err_console), resources=spec.eval)  # fmt: skip
    outcome = run_release(spec.model_uri, spec.name, spec.gold, evaluator, parts.registry,
                          controller, build_tags=logged_run_tags)  # fmt: skip
    report = None
    if outcome.release is not None:
        report = rt.publish_report(
            parts, outcome.release, controller.totals, outcome.gates.decision
        )
    if as_json:
        emit_json({**outcome.to_dict(), "report": str(report) if report else None})
    else:
        color = DECISION_COLORS.get(outcome.outcome.replace("promoted", "promote")
                                    .replace("rolled_back", "rollback"), "red")  # fmt: skip
        console.print(f"{spec.model_uri}: [bold {color}]{outcome.outcome.upper()}[/] — "
                      f"{outcome.reason}", highlight=False)  # fmt: skip
        if report:
            console.print(f"release report: {report}", highlight=False)
    raise typer.Exit(0 if outcome.outcome == "promoted" else 1)


@handles_errors
def webhook_listen(
    port: int = typer.Option(8787, "--port", help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    alias: str = typer.Option("candidate", "--alias", help="Alias whose moves start a release."),
    gold: str = typer.Option("smoke", "--gold", help="Gold set for the offline eval."),
    gates: Path | None = GATES_OPTION,
    rollout: Path | None = ROLLOUT_OPTION,
    configs: list[Path] = typer.Option(
        [],
        "--config",
        help="A model's release YAML (repeatable): its versions are released with the file's "
        "gold set, policies, input map and eval resources instead of --gold, --gates, --rollout.",
    ),
) -> None:
    """Receive MLflow registry webhooks; pointing ALIAS at a version starts its release.

    Register the receiver with MLflow (a server on a SQL store, MLflow ≥ 3.3) for the event
    model_version_alias.created and the secret in $RAYGATE_MLFLOW_WEBHOOK_SECRET; deliveries
    with a wrong signature or older than 5 minutes are refused (401).
    """

    import uvicorn

    from raygate.errors import ConfigError
    from raygate.secrets import get_secret, secret_sources
    from raygate.tracking import raygate_home
    from raygate.webhook_receiver import (
        ENV_MLFLOW_WEBHOOK_SECRET,
        build_receiver,
        release_arguments,
        release_starter,
    )

    secret = get_secret(ENV_MLFLOW_WEBHOOK_SECRET)
    if not secret:
        sources = secret_sources(ENV_MLFLOW_WEBHOOK_SECRET)
        raise ConfigError(f"set {sources} to the secret of the MLflow webhook")
    _policies(gates, rollout)  # bad policies are reported now, not at the first delivery
    gates, rollout = policy_file(gates, "gates"), policy_file(rollout, "rollout")
    arguments = release_arguments(gold, gates.resolve(), rollout.resolve(), _release_files(configs))
    start = release_starter(arguments, raygate_home() / "releases")
    err_console.print(f"listening on http://{host}:{port}/mlflow for {alias} moves")
    uvicorn.run(build_receiver(secret, start, alias), host=host, port=port, log_level="warning")


def _release_files(paths: list[Path]) -> dict[str, Path]:
    """Each release file's model name → the file, one file a model; their policies are read
    now, not at the first delivery."""
    from raygate.errors import ConfigError
    from raygate.release import load_release_config

    files: dict[str, Path] = {}
    for path in paths:
        spec = load_release_config(path)
        if spec.name in files:
            raise ConfigError(f"{files[spec.name]} and {path.resolve()} both release {spec.name!r}")
        _policies(spec.gates, spec.rollout)
        files[spec.name] = path.resolve()
    return files
