"""`raygate gate`, `raygate register`, `raygate check`: decide, promote to candidate, contract."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from raygate.cli.output import JSON_OPTION, console, emit_json, handles_errors
from raygate.constants import ALIAS_CANDIDATE, ALIAS_CHAMPION
from raygate.policy_files import default_help, policy_file

POLICY_OPTION = typer.Option(None, "--policy", help=f"Gate policy YAML ({default_help('gates')}).")
AGAINST_OPTION = typer.Option(
    ALIAS_CHAMPION, "--against", help="Alias to compare with; '' to skip the relative gates."
)
NAME_OPTION = typer.Option(
    None, "--name", help="Registered model name (needed when the candidate is not registered)."
)
LOAD_RUN_OPTION = typer.Option(
    None, "--load-run", help="MLflow run of `raygate loadtest --log-mlflow` for the load gates."
)


def _print_gates(decision, policy: Path | None = None) -> None:
    table = Table(show_header=True)
    for column in ("gate", "measured", "threshold", "verdict", "detail"):
        table.add_column(column)
    colors = {"pass": "green", "fail": "red", "skipped": "yellow"}
    for g in decision.gates:
        measured = "-" if g.measured is None else f"{g.measured:.4g}"
        verdict = f"[{colors[g.verdict]}]{g.verdict}[/]"
        table.add_row(g.name, measured, g.threshold, verdict, g.detail)
    console.print(table)
    if policy is not None:
        console.print(f"policy: {policy}", highlight=False, style="dim")
    console.print("[bold green]PASSED[/]" if decision.passed else "[bold red]FAILED[/]")


def _gate(run_id: str, policy: Path | None, name: str | None, against: str, load_run: str | None):
    """The registry and the gates' outcome, judged against the policy file named or found
    (which `gate` and `register` say, as the default may be raygate's built-in one)."""
    from raygate.gates.policy import load_policy
    from raygate.gates.run import gate_eval_run
    from raygate.registry.mlflow_registry import MlflowRegistry

    path = policy_file(policy, "gates")
    registry = MlflowRegistry()
    outcome = gate_eval_run(run_id, load_policy(path), registry, name, against or None, load_run)
    return registry, outcome, path


@handles_errors
def gate(
    run_id: str = typer.Argument(..., help="Run id printed by `raygate eval`."),
    policy: Path | None = POLICY_OPTION,
    against: str = AGAINST_OPTION,
    name: str | None = NAME_OPTION,
    load_run: str | None = LOAD_RUN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Judge an eval run against the policy; exit 0 when every gate passes, 1 otherwise."""
    _, outcome, path = _gate(run_id, policy, name, against, load_run)
    if as_json:
        emit_json({"run_id": run_id, "model_id": outcome.candidate.model_id, "policy": str(path),
                   **outcome.decision.to_dict()})  # fmt: skip
    else:
        _print_gates(outcome.decision, path)
    raise typer.Exit(0 if outcome.decision.passed else 1)


@handles_errors
def register(
    run_id: str = typer.Argument(..., help="Run id printed by `raygate eval`."),
    name: str = typer.Option(..., "--name", help="Registered model name."),
    policy: Path | None = POLICY_OPTION,
    alias: str = typer.Option(ALIAS_CANDIDATE, "--alias", help="Alias to point at the version."),
    load_run: str | None = LOAD_RUN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Register the evaluated model under NAME and set ALIAS (candidate) if every gate passes.

    Gates are judged against NAME@champion. When any gate fails nothing is written and the
    exit status is 1.
    """
    from raygate.gates.evaluator import logged_run_tags
    from raygate.release import register_candidate

    registry, outcome, path = _gate(run_id, policy, name, ALIAS_CHAMPION, load_run)
    if not outcome.decision.passed:
        if as_json:
            emit_json({"registered": None, "policy": str(path), **outcome.decision.to_dict()})
        else:
            _print_gates(outcome.decision, path)
            console.print(f"[red]not registered: {outcome.candidate.model_id} failed its gates[/]")
        raise typer.Exit(1)
    registered = register_candidate(registry, outcome, name, alias, build_tags=logged_run_tags)
    version, change = registered.version, registered.change
    if as_json:
        shown = {"model_id": version.model_id, "alias": alias, "action": change.action}
        emit_json({"registered": shown, "policy": str(path), **outcome.decision.to_dict()})
        return
    _print_gates(outcome.decision, path)
    console.print(f"registered [bold]{version.model_id}[/] · {alias} → v{version.version}")


@handles_errors
def check(
    model_uri: str = typer.Argument(..., help="Candidate model URI."),
    against: str = AGAINST_OPTION,
    name: str | None = NAME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Contract gate only, in seconds and without Ray: signature compatible with the champion's,
    prompt variables bound, tool schemas valid. Exit 0 when it passes, 1 otherwise."""
    from raygate.gates.contract import check_contract
    from raygate.gates.decide import GateDecision
    from raygate.gates.run import champion_version
    from raygate.packaging.loading import registry_name
    from raygate.registry.mlflow_registry import MlflowRegistry
    from raygate.tracking import configure_mlflow

    configure_mlflow()  # a models:/m-… URI is read from the store even without a registry name
    name = name or registry_name(model_uri)
    champion = champion_version(MlflowRegistry(), name, against) if (name and against) else None
    decision = GateDecision(tuple(check_contract(model_uri, champion.uri if champion else None)))
    if as_json:
        emit_json({"model_uri": model_uri, "against": champion.model_id if champion else None,
                   **decision.to_dict()})  # fmt: skip
    else:
        _print_gates(decision)
    raise typer.Exit(0 if decision.passed else 1)
