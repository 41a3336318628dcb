"""`raygate agent`: build the reference agent from a config, log it, optionally register it."""

from __future__ import annotations

from pathlib import Path

import typer

from raygate.cli.output import JSON_OPTION, console, emit_json, handles_errors, working

app = typer.Typer(help="Build agents from their YAML configs.", no_args_is_help=True)


@app.command("build")
@handles_errors
def build(
    config_path: Path = typer.Argument(
        ..., metavar="CONFIG", help="Agent YAML, e.g. agents/v1.yaml."
    ),
    register: str | None = typer.Option(
        None, "--register", metavar="NAME", help="Register the built model under this name."
    ),
    alias: str | None = typer.Option(
        None,
        "--alias",
        metavar="ALIAS",
        help="Point this alias (e.g. champion) at the new version.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate CONFIG, log the agent as an MLflow pyfunc, and optionally register it.

    Every input is checked before anything is written, so a bad config leaves no run,
    no model version and no alias behind.
    """
    from raygate.config import load_agent_config
    from raygate.packaging.build import log_agent_model
    from raygate.registry.protocol import check_alias

    if alias and not register:
        raise typer.BadParameter("--alias needs --register NAME", param_hint="--alias")
    if alias:
        check_alias(alias)  # before anything is written
    config = load_agent_config(config_path)
    with working(f"building {config.name} from {config_path}", as_json):
        built = log_agent_model(config)
    result: dict = {"model_uri": built.model_uri, "run_id": built.run_id, "tags": built.tags}
    if register:
        from raygate.registry.mlflow_registry import MlflowRegistry

        registry = MlflowRegistry()
        version = registry.register(register, built.model_uri, built.tags)
        result["registered"] = {
            "name": register,
            "version": version.version,
            "model_id": version.model_id,
        }
        if alias:
            change = registry.set_alias(
                register, alias, version.version, reason=f"agent build {config_path}"
            )
            result["alias"] = {
                "alias": alias,
                "version": change.version,
                "previous": change.previous,
            }
    if as_json:
        emit_json(result)
        return
    console.print(f"logged [bold]{built.model_uri}[/] (run {built.run_id})")
    if register:
        console.print(f"registered [bold]{result['registered']['model_id']}[/]")
    if alias:
        console.print(f"alias [bold]{alias}[/] → v{result['alias']['version']}")
