"""What raygate's telemetry costs: the same serving app (router + champion + canary at 5 %,
serve_configs/canary.yaml) deployed three times on one local Ray — tracing (JSONL exporter)
and request records on; the same with 1 trace in 10 sampled (OpenTelemetry's standard
`OTEL_TRACES_SAMPLER`); both off (`RAYGATE_TRACES=none`, `RAYGATE_RECORDS=off`) — measured
in rotating rounds at the same concurrency.

Usage: python benchmarks/telemetry_overhead.py [--quick] [--concurrency 16] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import statistics
import sys
from pathlib import Path

from serve_overhead import TOKEN, bench_cluster, closed_loop, raygate_app_config, wait_running

from raygate.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "on": {"RAYGATE_TRACES": "jsonl", "RAYGATE_RECORDS": "on"},
    "sampled": {
        "RAYGATE_TRACES": "jsonl",
        "RAYGATE_RECORDS": "on",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    },
    "off": {"RAYGATE_TRACES": "none", "RAYGATE_RECORDS": "off"},
}


def deploy(dashboard: str, port: int, model_name: str) -> None:
    """One app per setting from serve_configs/canary.yaml, one replica per deployment, each
    with its telemetry settings in its runtime_env; returns once all run."""
    from ray.dashboard.modules.serve.sdk import ServeSubmissionClient

    from raygate.serving.control import with_runtime_env

    config = raygate_app_config(port, model_name)
    template = with_runtime_env(config)["applications"][0]  # MLflow store, token file
    config["applications"] = []
    for name, env in SETTINGS.items():
        app = copy.deepcopy(template)
        app["name"], app["route_prefix"] = f"telemetry-{name}", f"/{name}"
        app["runtime_env"]["env_vars"] |= env
        config["applications"].append(app)
    client = ServeSubmissionClient(dashboard)  # several raygate apps: ServeControl manages one
    client.deploy_applications(config)
    wait_running(client.get_serve_details, apps=len(SETTINGS))


def paired_ratio(runs: list[dict], baseline: list[dict]) -> float:
    """Median over rounds of this round's rps ÷ the baseline's in the same round."""
    return round(
        statistics.median(r["rps"] / b["rps"] for r, b in zip(runs, baseline, strict=True)), 3
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 5 s per setting")
    parser.add_argument("--rounds", type=int, default=6, help="rotating rounds per setting")
    parser.add_argument("--concurrency", type=int, default=16, help="clients in flight")
    parser.add_argument("--seconds", type=float, default=20, help="seconds per measurement")
    args = parser.parse_args(argv)
    seconds, rounds = (5.0, 2) if args.quick else (args.seconds, args.rounds)
    with bench_cluster(num_cpus=6) as (tmp, dashboard, _):
        from ray import serve

        port = free_port()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        try:
            deploy(dashboard, port, "bench-agent")
            urls = {name: f"http://127.0.0.1:{port}/{name}/v1/predict" for name in SETTINGS}
            for url in urls.values():  # warm each: connections, first batches
                asyncio.run(closed_loop(url, headers, args.concurrency, 2.0))
            runs: dict[str, list[dict]] = {name: [] for name in urls}
            names = list(urls)
            for round_index in range(rounds):  # who goes first rotates
                order = names[round_index % len(names) :] + names[: round_index % len(names)]
                for name in order:
                    runs[name].append(
                        asyncio.run(closed_loop(urls[name], headers, args.concurrency, seconds))
                    )
                    print(name, json.dumps(runs[name][-1]), file=sys.stderr)
            telemetry = tmp / "telemetry"
            span_lines = sum(
                len(p.read_text().splitlines()) for p in telemetry.glob("traces/*.jsonl")
            )
            record_lines = sum(
                len(p.read_text().splitlines()) for p in telemetry.glob("records/*.jsonl")
            )
        finally:
            serve.shutdown()
    med = {n: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for n, rs in runs.items()}
    answered = sum(r["rps"] * seconds for name in ("on", "sampled") for r in runs[name])
    summary = {
        "concurrency": args.concurrency,
        "seconds_per_run": seconds,
        "rounds": rounds,
        "rps_telemetry_on": round(med["on"]["rps"], 1),
        "rps_telemetry_sampled": round(med["sampled"]["rps"], 1),
        "rps_telemetry_off": round(med["off"]["rps"], 1),
        # Paired within each round (the machine's speed drifts between rounds), then the
        # median over rounds; the ratio of the per-setting medians is kept beside it.
        "ratio_rps_on_vs_off": paired_ratio(runs["on"], runs["off"]),
        "ratio_rps_sampled_vs_off": paired_ratio(runs["sampled"], runs["off"]),
        "ratio_of_median_rps_on_vs_off": round(med["on"]["rps"] / med["off"]["rps"], 3),
        "ratio_of_median_rps_sampled_vs_off": round(med["sampled"]["rps"] / med["off"]["rps"], 3),
        "latency_ms_p50_on": round(med["on"]["p50"], 2),
        "latency_ms_p50_off": round(med["off"]["p50"], 2),
        "latency_ms_p95_on": round(med["on"]["p95"], 2),
        "latency_ms_p95_off": round(med["off"]["p95"], 2),
        # by the `on` and `sampled` apps together (warm-up included)
        "records_written": record_lines,
        "spans_written": span_lines,
        "requests_measured_on_and_sampled": round(answered),
        "failed_requests": int(sum(r["failures"] for rs in runs.values() for r in rs)),
    }
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
