"""`raygate demo`: the release playbook end to end on a local Ray and a fresh MLflow store."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from raygate.cli.output import JSON_OPTION, console, emit_json, err_console, handles_errors

OUTCOME_COLORS = {"champion": "green", "promoted": "green", "rolled_back": "red",
                  "gates_failed": "red", "halted": "yellow", "aborted": "red"}  # fmt: skip


@handles_errors
def demo(
    rate: float = typer.Option(30.0, "--rate", help="Requests per second of background load."),
    root: Path = typer.Option(
        Path("."), "--root", help="A raygate checkout (agents/, policies/, serve_configs/)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """v1 becomes champion; v2 passes its gates, goes through a canary under load and is
    promoted; v3 passes offline but is slower than its champion under live traffic, and is
    rolled back by the controller. About 5 minutes on 2 cores; prints a summary table."""
    from raygate.cli.release import print_look
    from raygate.demo import NEEDED, demo_home, run_demo
    from raygate.errors import ConfigError
    from raygate.tracking import raygate_home

    missing = [name for name in NEEDED if not (root / name).is_file()]
    if missing:
        raise ConfigError(
            f"{root.resolve()} lacks {', '.join(missing)}: run the demo from a raygate checkout "
            "or pass --root"
        )

    def say(text: str) -> None:
        if not as_json:
            err_console.print(text, highlight=False)

    home = demo_home(raygate_home())
    try:
        result = run_demo(home, root.resolve(), rate, say, None if as_json else print_look)
    except KeyboardInterrupt:  # its Ray and Serve are gone: nothing to resume
        raise KeyboardInterrupt(
            f"the demo stopped and shut down its Ray and Serve; what it made so far stays in "
            f"{home} (RAYGATE_HOME={home} raygate registry show reference-agent)"
        ) from None
    if as_json:
        emit_json(result.to_dict())
        return
    table = Table(title="raygate demo: one release playbook, three versions", title_justify="left")
    for column in ("version", "config", "offline gates", "outcome", "reason"):
        table.add_column(column)
    for v in result.versions:
        color = OUTCOME_COLORS.get(v.outcome, "white")
        table.add_row(f"v{v.version}", v.config, "pass" if v.gates_passed else "fail",
                      f"[{color}]{v.outcome}[/]", v.reason)  # fmt: skip
    console.print(table)
    aliases = ", ".join(f"{a} → v{n}" for a, n in result.aliases.items())
    load = result.load
    console.print(f"aliases: {aliases}", highlight=False)
    for failure in load["failures"]:
        console.print(f"  failed request: {failure}", highlight=False)
    console.print(
        f"background load: {load['requests']} requests at {load['rate_rps']:g}/s, "
        f"{load['failed']} failed ({load['by_variant']}); {result.duration_s:.0f} s in all",
        highlight=False,
    )
    for v in result.versions:
        if v.report:
            console.print(f"v{v.version} release report: {v.report}", highlight=False)
    console.print(f"MLflow store: {result.home} (releases in experiment raygate-releases)")
