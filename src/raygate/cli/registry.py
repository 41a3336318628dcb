"""`raygate registry`: versions, aliases, alias history and one-call rollback."""

from __future__ import annotations

import typer
from rich.table import Table

from raygate.cli.output import JSON_OPTION, console, emit_json, handles_errors
from raygate.constants import ALIAS_CHAMPION, TAG_CONFIG_HASH, TAG_PROMPT_ID

app = typer.Typer(help="Inspect registered models and move their aliases.", no_args_is_help=True)


def _registry():
    from raygate.registry.mlflow_registry import MlflowRegistry

    return MlflowRegistry()


@app.command("list")
@handles_errors
def list_models(as_json: bool = JSON_OPTION) -> None:
    """List the registered models in the store: newest version and aliases of each."""
    registry = _registry()
    models = registry.list_models()
    if as_json:
        emit_json([vars(m) for m in models])
        return
    if not models:
        console.print(f"no registered models in {registry.store} yet: register one with "
                      "`raygate register` or `raygate agent build CONFIG --register NAME`",
                      highlight=False)  # fmt: skip
        return
    table = Table()
    for column in ("name", "newest version", "aliases"):
        table.add_column(column)
    for m in models:
        newest = "-" if m.latest_version is None else f"v{m.latest_version}"
        aliases = ", ".join(f"{alias} → v{version}" for alias, version in m.aliases.items())
        table.add_row(m.name, newest, aliases)
    console.print(table)


@app.command("show")
@handles_errors
def show(
    name: str = typer.Argument(..., help="Registered model name."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List NAME's versions, its aliases and each alias's history."""
    registry = _registry()
    versions = registry.list_versions(name)
    aliases = registry.aliases(name)
    history = {alias: registry.alias_history(name, alias) for alias in aliases}
    if as_json:
        emit_json({
            "name": name,
            "aliases": aliases,
            "versions": [
                {"version": v.version, "model_id": v.model_id, "aliases": list(v.aliases),
                 "run_id": v.run_id, "tags": v.tags}
                for v in versions
            ],
            "alias_history": {a: [vars(e) for e in entries] for a, entries in history.items()},
        })  # fmt: skip
        return
    table = Table(title=f"{name}", title_justify="left")
    for column in ("version", "aliases", "prompt", "config hash", "run"):
        table.add_column(column)
    for v in versions:
        table.add_row(
            str(v.version),
            ", ".join(v.aliases),
            v.tags.get(TAG_PROMPT_ID, ""),
            v.tags.get(TAG_CONFIG_HASH, "")[:19],
            (v.run_id or "")[:12],
        )
    console.print(table)
    for alias, entries in history.items():
        moves = " → ".join(
            f"v{e.version}" + (" (rollback)" if e.action == "rollback" else "") for e in entries
        )
        console.print(f"[bold]{alias}[/]: {moves or 'set outside raygate'}", highlight=False)


@app.command("alias")
@handles_errors
def alias(
    name: str = typer.Argument(..., help="Registered model name."),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="Alias to move, e.g. champion."),
    version: int = typer.Argument(..., help="Version the alias should point to."),
    reason: str = typer.Option("", "--reason", help="Why; kept in the alias history."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Point ALIAS of NAME at VERSION and record the move (so it can be rolled back)."""
    change = _registry().set_alias(name, alias_name, version, reason=reason)
    _report(change, as_json)


@app.command("rollback")
@handles_errors
def rollback(
    name: str = typer.Argument(..., help="Registered model name."),
    alias_name: str = typer.Option(ALIAS_CHAMPION, "--alias", help="Alias to roll back."),
    reason: str = typer.Option("", "--reason", help="Why; kept in the alias history."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Return ALIAS (default: champion) to the version it pointed to before its last move.

    Idempotent: a second rollback right after the first changes nothing.
    """
    change = _registry().rollback(name, alias_name, reason=reason)
    _report(change, as_json)


def _report(change, as_json: bool) -> None:
    if as_json:
        emit_json(vars(change))
    elif change.action == "noop":
        console.print(
            f"{change.name}: {change.alias} already at v{change.version}; nothing changed"
        )
    else:
        before = f"v{change.previous}" if change.previous is not None else "unset"
        console.print(
            f"{change.name}: {change.alias} {before} → v{change.version} ({change.action})"
        )
