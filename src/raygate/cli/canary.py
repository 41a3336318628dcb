"""`raygate canary replay|plan`: backtest a rollout policy on recorded traffic, and plan how
long a canary needs to decide before trusting it with live traffic."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from raygate.cli.output import JSON_OPTION, console, emit_json, err_console, handles_errors
from raygate.cli.percents import percent
from raygate.policy_files import default_help

app = typer.Typer(
    help="Run live canaries (start, status, pause, resume, abort); replay a policy on recorded "
    "traffic; plan a canary's duration.",
    no_args_is_help=True,
)
POLICY_OPTION = typer.Option(
    None,
    "--policy",
    help=f"Rollout policy YAML: steps, metrics, limits ({default_help('rollout')}).",
)
VERDICT_COLORS = {"pass": "green", "fail": "red", "inconclusive": "yellow"}
DECISION_COLORS = {"promote": "green", "rollback": "red", "inconclusive": "yellow"}


@app.command("replay")
@handles_errors
def replay(
    observations: list[Path] = typer.Argument(
        ...,
        metavar="RECORDS...",
        help="JSONL files of per-request records (one object a line: ts, variant, status, "
        "finish_reason, latency_ms, tokens_in, tokens_out, cost_usd, safety_flags), or a "
        "records folder (its requests-*.jsonl); merged in ts order.",
    ),
    policy: Path | None = POLICY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Run the judge and the policy's steps over a recorded canary, as if live.

    The recorded traffic split is kept (the policy's weights are not applied); its durations,
    request minimums, limits and timeout are. Exit 0 on promote or inconclusive, 1 on
    rollback, 2 on bad input.
    """
    from raygate.canary.policy import load_rollout_policy
    from raygate.canary.recordings import read_observations
    from raygate.canary.replay import replay as run_replay

    rollout = load_rollout_policy(policy)
    result = run_replay(read_observations(*observations), rollout)
    if as_json:
        emit_json(result.to_dict())
    else:
        _print_replay(result)
    if result.decision == "rollback":
        raise typer.Exit(1)


def _print_replay(result) -> None:
    document = result.to_dict()
    table = Table(show_header=True)
    for column in ("metric", "verdict", "canary", "champion", "ratio", "anytime-valid bounds"):
        table.add_column(column)
    for reason in document["reasons"]:
        evidence = reason["evidence"]
        verdict = reason["verdict"]
        table.add_row(
            reason["metric"],
            f"[{VERDICT_COLORS[verdict]}]{verdict}[/]",
            _fmt(evidence["canary"]),
            _fmt(evidence["champion"]),
            _fmt(evidence["ratio"]),
            f"{_fmt(evidence['ratio_lower'], '0')} < r < {_fmt(evidence['ratio_upper'], '∞')}"
            f" (limit ×{evidence['max_ratio']:g})",
        )
    console.print(table)
    color = DECISION_COLORS[result.decision]
    when = (
        f" at canary request {result.decided_at_request}, {document['decided_after_s']:.0f} s "
        "into the recording"
        if result.decided_at_ts is not None
        else ""
    )
    console.print(f"[bold {color}]{result.decision.upper()}[/]{when}: {escape(result.reason)}")
    console.print(
        f"{document['observations']} observations, {document['canary_requests']} canary and "
        f"{document['champion_requests']} champion requests judged, {result.looks} looks"
    )


@app.command("plan")
@handles_errors
def plan(
    rps: float = typer.Option(..., "--rps", help="Requests per second over both variants."),
    share: float | None = typer.Option(
        None,
        "--share",
        parser=percent,
        metavar="PERCENT",
        help="The canary's share of traffic: 0-100, as 5 or 5%  [default: the policy's last "
        "step's weight, where promotion is decided].",
    ),
    policy: Path | None = POLICY_OPTION,
    error_rate: float = typer.Option(0.01, help="Champion's error rate (0.01 = 1 %)."),
    safety_block_rate: float = typer.Option(0.005, help="Champion's safety-block rate."),
    refusal_rate: float = typer.Option(0.02, help="Champion's refusal rate."),
    latency_ms_p50: float = typer.Option(400.0, help="Champion's median latency, ms."),
    latency_ms_p95: float = typer.Option(1500.0, help="Champion's p95 latency, ms."),
    cost_usd_p50: float = typer.Option(0.002, help="Champion's median cost per request, USD."),
    cost_usd_p95: float = typer.Option(0.006, help="Champion's p95 cost per request, USD."),
    simulations: int = typer.Option(60, help="Simulated canaries per scenario (more: slower)."),
    seed: int = typer.Option(0, help="Seed of the simulation."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Expected canary requests and minutes to a decision, by simulating the judge itself.

    For each metric: how long until a canary that is worse by exactly the metric's
    max_increase is rolled back; overall: how long until a canary no different from its
    champion passes every metric and is promoted. Warns about steps too short to decide.
    """
    from raygate.canary.plan import PlanRequest, make_plan, scenario_count
    from raygate.canary.policy import load_rollout_policy
    from raygate.errors import ConfigError
    from raygate.schemas import validate_mapping

    rollout = load_rollout_policy(policy)
    if share is None:
        share = rollout.steps[-1].weight_percent
    request = validate_mapping(
        {
            "rps": rps, "share_percent": share, "error_rate": error_rate,
            "safety_block_rate": safety_block_rate, "refusal_rate": refusal_rate,
            "latency_ms_p50": latency_ms_p50, "latency_ms_p95": latency_ms_p95,
            "cost_usd_p50": cost_usd_p50, "cost_usd_p95": cost_usd_p95,
            "simulations": simulations, "seed": seed,
        },
        PlanRequest, ConfigError, "raygate canary plan",
    )  # fmt: skip
    total = scenario_count(rollout) * request.simulations
    show = not as_json and err_console.is_terminal
    with Progress(console=err_console, transient=True, disable=not show) as progress:
        task = progress.add_task("simulating canaries", total=total)
        result = make_plan(
            rollout, request.rps, request.share_percent, request.baseline(),
            request.simulations, request.seed, lambda: progress.advance(task),
        )  # fmt: skip
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(
        f"[bold]{request.rps:g} req/s, canary at {request.share_percent:g} %[/] → "
        f"{request.rps * request.share_percent / 100:g} canary req/s "
        f"({request.simulations} simulated canaries per line)"
    )
    table = Table(show_header=True)
    for column in ("scenario", "median canary requests", "median minutes", "p90 requests"):
        table.add_column(column)
    promote = result.to_promote
    table.add_row("no difference → promote", *_outcome_cells(promote))
    for metric in result.metrics:
        label = f"{metric.metric} ×{1 + metric.max_increase:g} → rollback"
        table.add_row(label, *_outcome_cells(metric.to_fail_at_effect))
    console.print(table)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")


def _outcome_cells(outcome) -> tuple[str, str, str]:
    if outcome.median_requests is None:
        return (f"> cap ({outcome.decided_share:.0%} decided)", "-", "-")
    return (
        f"{outcome.median_requests:,.0f}",
        f"{outcome.median_minutes:,.1f}" if outcome.median_minutes is not None else "-",
        "-" if outcome.p90_requests is None else f"{outcome.p90_requests:,.0f}",
    )


def _fmt(value: float | None, missing: str = "n/a") -> str:
    if value is None or (isinstance(value, float) and math.isinf(value)):
        return missing
    return f"{value:.4g}"
