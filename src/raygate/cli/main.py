"""The `raygate` entry point: composes the command groups; imports heavy libraries lazily."""

from __future__ import annotations

import typer

from raygate import __version__
from raygate.cli import (
    agent,
    canary,
    demo,
    evaluate,
    gates,
    goldset,
    loadtest,
    predict,
    registry,
    release,
    serve,
    telemetry,
)
from raygate.cli.output import quiet_libraries

app = typer.Typer(
    name="raygate",
    help="Eval-gated, reversible GenAI releases on Ray: promote by alias, not by hope.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",  # docstrings' wrapped lines are joined into paragraphs
)
app.add_typer(agent.app, name="agent")
app.add_typer(registry.app, name="registry")
app.add_typer(goldset.app, name="goldset")
app.add_typer(serve.app, name="serve")
app.add_typer(canary.app, name="canary")
app.add_typer(telemetry.trace_app, name="trace")
app.add_typer(telemetry.telemetry_app, name="telemetry")
app.command("predict")(predict.predict)
app.command("eval")(evaluate.evaluate)
app.command("gate")(gates.gate)
app.command("register")(gates.register)
app.command("check")(gates.check)
app.command("loadtest")(loadtest.loadtest)
app.command("promote")(release.promote)
app.command("rollback")(release.rollback)
app.command("release")(release.release)
app.command("demo")(demo.demo)
webhook_app = typer.Typer(help="Start releases from MLflow registry webhooks.",
                          no_args_is_help=True)  # fmt: skip
webhook_app.command("listen")(release.webhook_listen)
app.add_typer(webhook_app, name="webhook")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"raygate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Eval-gated, reversible GenAI releases on Ray: promote by alias, not by hope.

    MLflow lives at $MLFLOW_TRACKING_URI, or in a SQLite store under $RAYGATE_HOME
    (default ./.raygate).
    """
    quiet_libraries()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
