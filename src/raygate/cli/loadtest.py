"""`raygate loadtest`: open- or closed-loop load on Ray actors, with SLOs and goodput."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from raygate.capacity import LOAD_START_TIMEOUT_S
from raygate.cli.durations import at_least
from raygate.cli.output import (
    JSON_OPTION,
    console,
    emit_json,
    err_console,
    handles_errors,
    interrupted_status,
    waiting_note,
)
from raygate.sketch import RELATIVE_ERROR


@handles_errors
def loadtest(
    url: str = typer.Argument(
        ..., help="Base URL of the service, e.g. http://127.0.0.1:8000 (a trailing /v1 is fine)."
    ),
    rate: float | None = typer.Option(
        None,
        "--rate",
        min=0.001,
        help="Open loop: requests per second (latency counts from "
        "each request's scheduled send time).",
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, help="Closed loop: requests in flight."
    ),
    duration: float = typer.Option(
        "30s", "--duration", parser=at_least(0.1), help="How long to send: 90, 90s, 5m, 1h."
    ),
    workers: int = typer.Option(1, "--workers", min=1, help="Ray actors generating load."),
    protocol: str = typer.Option(
        "predict", "--protocol", help="predict (/v1/predict) or openai (/v1/chat/completions)."
    ),
    stream: bool = typer.Option(False, "--stream", help="openai: stream (TTFT, inter-token)."),
    model: str | None = typer.Option(
        None, "--model", help="openai: model name to send (default: the first of GET /v1/models)."
    ),
    arrival: str = typer.Option("poisson", "--arrival", help="constant, poisson or gamma."),
    burstiness: float = typer.Option(1.0, "--burstiness", min=0.001, help="gamma shape."),
    ramp_up: float = typer.Option(
        "0", "--ramp-up", parser=at_least(0), help="Linear ramp at the start: 30, 30s, 1m."
    ),
    workload: str = typer.Option(
        "smoke",
        "--workload",
        help="Gold set (smoke, dev), a JSONL/Parquet/CSV file or a JSON array with a 'query' "
        "(or 'prompt') column, OpenAI chat 'messages' or ShareGPT 'conversations' (replayed "
        "up to their last user turn by --protocol openai), a .txt file of one prompt a line, "
        "or 'synthetic'. A row's 'inputs' (else a gold row's 'metadata') go with its query as "
        "the model's other inputs (--protocol predict).",
    ),
    size: int | None = typer.Option(None, "--size", min=1, help="Prompts to use (cycled)."),
    users: int = typer.Option(1000, "--users", min=0, help="Distinct user ids; 0: anonymous."),
    slo: list[str] = typer.Option(
        [], "--slo", help="SLO like latency_ms_p95=800 or error_rate=0.01 (repeatable)."
    ),
    token_env: str = typer.Option(
        "RAYGATE_API_TOKEN", "--token-env", help="Environment variable holding the bearer token."
    ),
    worker_cpus: float = typer.Option(
        1.0, "--worker-cpus", min=0, help="CPUs each load worker reserves on the cluster."
    ),
    start_timeout: float = typer.Option(
        LOAD_START_TIMEOUT_S,
        "--start-timeout",
        min=1,
        help="Seconds the workers may wait for their CPUs on the cluster; then the load test "
        "fails, saying what the cluster has free.",
    ),
    connections: int = typer.Option(256, "--connections", min=1, help="Per worker, at most."),
    timeout: float = typer.Option(60.0, "--timeout", min=0.1, help="Seconds per request."),
    ca_cert: Path | None = typer.Option(
        None,
        "--ca-cert",
        envvar="SSL_CERT_FILE",
        help="https: a PEM file of the CA certificates the server's certificate must be signed "
        "by (a self-signed server: its own certificate); read here and handed to every worker. "
        "Default: the system's trust store.",
    ),
    out: Path | None = typer.Option(None, "--out", help="Folder for results.parquet and summary."),
    log_mlflow: bool = typer.Option(False, "--log-mlflow", help="Log the run to MLflow."),
    observations: Path | None = typer.Option(
        None,
        "--observations",
        help="Also write each answer as a per-request record (JSONL) that `raygate canary "
        "replay` reads: a client-side recording of a canary.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of arrival times and prompt order."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Load-test URL at a rate (open loop) or a concurrency (closed loop) for DURATION.

    Exit status 1 when an --slo is missed or no request succeeded, 2 on bad input. Traffic
    goes only to URL.
    """

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from raygate.cluster import ensure_ray
    from raygate.loadtest.probe import check_reachable, probe_target
    from raygate.loadtest.runner import run_load
    from raygate.loadtest.spec import load_test_spec
    from raygate.loadtest.tls import read_ca_certs
    from raygate.loadtest.transport import Target, served_model
    from raygate.loadtest.workload import load_workload
    from raygate.secrets import get_secret

    spec = load_test_spec(
        {
            "url": url, "protocol": protocol, "stream": stream,
            "workers": workers, "connections": connections, "timeout_s": timeout,
            "arrival": {
                "rate": rate, "concurrency": concurrency, "duration_s": duration,
                "process": arrival, "burstiness": burstiness, "ramp_up_s": ramp_up, "seed": seed,
            },
        } | ({"model": model} if model else {}),
        slo,
    )  # fmt: skip
    plan, slos = spec.arrival, spec.slos
    token = get_secret(token_env)
    ca_pem = read_ca_certs(ca_cert) if ca_cert and spec.url.startswith("https://") else None
    target = Target(spec.url, spec.protocol, token, spec.model, spec.stream, spec.timeout_s, ca_pem)
    check_reachable(target)  # before Ray starts: a wrong URL is said in seconds
    if spec.protocol == "openai" and model is None:
        target.model = served_model(target)
    ensure_ray()
    prompts = load_workload(workload, size, users, seed)
    probe_target(target, prompts[0], token_env)
    folder = out or Path(tempfile.mkdtemp(prefix="raygate-loadtest-"))
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=err_console,
        disable=as_json or not err_console.is_terminal,
    )
    with progress:
        mode = f"{rate:g} req/s" if rate else f"{concurrency} in flight"
        task = progress.add_task(f"load {mode}", total=duration, status="")

        def update(p) -> None:
            status = f"sent {p.sent} · done {p.done} · failed {p.failed}"
            progress.update(task, completed=min(p.elapsed_s, duration), status=status)

        run = run_load(
            target, plan, prompts, folder, spec.workers, spec.connections, worker_cpus,
            slos=slos, on_progress=update, start_timeout_s=start_timeout,
            on_wait=waiting_note(start_timeout),
        )  # fmt: skip
    summary = {**run.summary, "results": str(run.results_path)}
    if observations is not None:
        from raygate.loadtest.observations import write_observations

        written, skipped = write_observations(run.results_path, observations)
        summary["observations"] = {"path": str(observations), "written": written,
                                   "skipped_unattributed": skipped}  # fmt: skip
    interrupted = "interrupted_after_s" in summary
    if log_mlflow and not interrupted:
        from raygate.loadtest.tracking import log_load_run

        params = {
            "url": url,
            "protocol": protocol,
            "stream": stream,
            "mode": summary["mode"],
            "rate": rate,
            "concurrency": concurrency,
            "duration_s": duration,
            "workers": workers,
            "arrival": arrival,
            "workload": workload,
            "seed": seed,
        }
        summary["mlflow_run_id"] = log_load_run(run, params, folder)
    if as_json:
        emit_json(summary)
    else:
        _print(summary)
    if interrupted:  # never a pass, nor evidence for a load gate
        logged = (
            " (not logged to MLflow: a load gate must not read a cut run)" if log_mlflow else ""
        )
        err_console.print(
            f"interrupted after {summary['interrupted_after_s']:.1f} s: the figures cover the "
            f"{summary['requests']} requests answered before; requests then in flight are in "
            f"none{logged}",
            highlight=False,
        )
        raise typer.Exit(interrupted_status())
    if summary["requests"] and not summary["succeeded"]:  # nothing measured but failures
        err_console.print(f"error: no request succeeded{_why_none(summary, token_env, token)}",
                          highlight=False)  # fmt: skip
        raise typer.Exit(1)
    if "slo" in summary and not summary["slo"]["passed"]:
        raise typer.Exit(1)


def _why_none(summary: dict, token_env: str, token: str | None) -> str:
    """Why no request succeeded: the errors seen, or, when the service refused every request
    as unauthorized, where the token goes."""
    from raygate.loadtest.probe import unauthorized_hint

    if not set(summary["errors_by_type"]) <= {"http_401", "http_403"}:
        return f" ({', '.join(summary['errors_by_type'])}); see {summary['results']}"
    return f": the service refused them all as unauthorized; {unauthorized_hint(token_env, token)}"


def _print(summary: dict) -> None:
    from raygate.loadtest.metrics import SLO_METRICS

    console.print(
        f"{summary['requests']} requests · {summary['throughput_rps']:.1f} req/s · "
        f"goodput {summary['goodput_rps']:.1f} req/s · errors {summary['error_rate']:.2%}",
        highlight=False,
    )
    for key in ("latency_ms", "ttft_ms", "itl_ms"):
        figures = [summary.get(f"{key}_p{p}") for p in (50, 90, 95, 99)]
        if figures[0] is not None:
            shown = " ".join(
                f"p{p} {v:.1f}" for p, v in zip((50, 90, 95, 99), figures, strict=True)
            )
            console.print(f"  {key:<11} {shown}", highlight=False)
    if summary.get("percentiles") == "sketch":
        console.print(
            f"  (percentiles from a streamed sketch: within {RELATIVE_ERROR:.1%} of the exact "
            "values; results.parquet holds every request)",
            highlight=False,
        )
    if summary["errors_by_type"]:
        console.print(f"  errors: {summary['errors_by_type']}", highlight=False)
    for name, check in summary.get("slo", {}).get("checks", {}).items():
        verdict = "[green]pass[/]" if check["passed"] else "[red]FAIL[/]"
        bound = "≤" if SLO_METRICS[name] else "≥"  # throughput is a floor, the rest ceilings
        value = "missing" if check["value"] is None else f"{check['value']:.4g}"
        console.print(f"  SLO {name} {bound} {check['limit']:g}: {value} {verdict}")
    if summary.get("fell_behind"):
        console.print(
            f"  [yellow]warning:[/] the load generator fell behind: its last send came "
            f"{summary['send_overrun_s']:.2f} s after the window (send lag p99 "
            f"{summary['send_lag_ms_p99']:.0f} ms); add --workers or lower --rate",
            highlight=False,
        )
    console.print(f"  results: {summary['results']}", highlight=False)
    if "observations" in summary:
        recorded = summary["observations"]
        console.print(
            f"  observations: {recorded['path']} ({recorded['written']} written, "
            f"{recorded['skipped_unattributed']} without a variant skipped)",
            highlight=False,
        )
