"""How much load raygate's load generator can make, next to wrk and locust, against one
trivial uvicorn endpoint on 127.0.0.1 (server and clients share this machine's cores).

Measured side by side in one run: the highest sustained rate (closed loop at the same number
of connections) of raygate loadtest with 1 and 2 Ray workers, wrk, and locust FastHttpUser
(one process); then raygate's open-loop accuracy at 80 % of its 1-worker ceiling and its
p50 at low load (one connection) next to wrk's.

Usage: python benchmarks/loadgen_ceiling.py [--quick] [--connections 32] [--seconds 10]
Needs: wrk (Debian package `wrk`) and locust (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from raygate.testing import free_port

HERE = Path(__file__).resolve().parent
BODY = '{"query":"What is the return window for Kitchen products?","user_id":"user-1"}'


def start_server(port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, str(HERE / "trivial_server.py"), str(port)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.post(f"http://127.0.0.1:{port}/v1/predict", data=BODY, timeout=1)
            return server
        except requests.ConnectionError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("the trivial server did not start")


def run_wrk(url: str, connections: int, seconds: float, threads: int) -> dict[str, float]:
    script = Path(tempfile.mkdtemp()) / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.body = \'' + BODY + "'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s",
         str(script), f"{url}/v1/predict"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"\s50%\s+([\d.]+)(us|ms|s)\b", out).groups()
    p50_ms = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return {"rps": rps, "p50_ms": p50_ms}


def run_locust(url: str, users: int, seconds: float) -> float:
    folder = Path(tempfile.mkdtemp())
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
         "-u", str(users), "-r", str(users), "-t", f"{seconds:g}s", "--host", url,
         "--csv", str(folder / "stats"), "--only-summary", "--loglevel", "WARNING"],
        capture_output=True, text=True, check=False, timeout=seconds + 120,
    )  # fmt: skip
    with (folder / "stats_stats.csv").open() as handle:
        total = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    return float(total["Requests/s"])


def run_raygate(url: str, out: Path, workers: int, seconds: float, *, rate: float | None = None,
                concurrency: int | None = None) -> dict:  # fmt: skip
    from raygate.loadtest.arrival import ArrivalConfig
    from raygate.loadtest.runner import run_load
    from raygate.loadtest.transport import Prompt, Target

    plan = ArrivalConfig(rate=rate, concurrency=concurrency, duration_s=seconds,
                         process="constant")  # fmt: skip
    connections = max(1, (concurrency or 256) // workers)
    prompts = (Prompt("What is the return window for Kitchen products?", "user-1"),)
    return run_load(Target(url), plan, prompts, out, workers, connections).summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    seconds, connections = (3.0 if args.quick else args.seconds), args.connections
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    if importlib.util.find_spec("locust") is None:
        raise SystemExit("locust is not installed: pip install -c constraints.txt -e '.[bench]'")
    import ray

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port)
    ray.init(num_cpus=4, include_dashboard=False, logging_level="WARNING")
    try:
        with tempfile.TemporaryDirectory(prefix="raygate-bench-") as tmp:
            wrk = run_wrk(url, connections, seconds, threads=2)
            locust_rps = run_locust(url, connections, seconds)
            raygate = {
                w: run_raygate(url, Path(tmp) / f"c{w}", w, seconds, concurrency=connections)
                for w in (1, 2)
            }
            ceiling = raygate[1]["throughput_rps"]
            target = 0.8 * ceiling
            open_loop = run_raygate(url, Path(tmp) / "open", 1, seconds, rate=target)
            low_wrk = run_wrk(url, 1, seconds, threads=1)
            low_raygate = run_raygate(url, Path(tmp) / "low", 1, seconds, concurrency=1)
    finally:
        ray.shutdown()
        server.terminate()
        server.wait()
    for name, value in (("wrk", wrk), ("locust", locust_rps), ("raygate", raygate)):
        print(name, json.dumps(value, default=str)[:400], file=sys.stderr)
    best = max(r["throughput_rps"] for r in raygate.values())
    summary = {
        "connections": connections,
        "seconds_per_run": seconds,
        "rps_raygate_1_worker": round(raygate[1]["throughput_rps"], 1),
        "rps_raygate_2_workers": round(raygate[2]["throughput_rps"], 1),
        "rps_raygate_max": round(best, 1),
        "rps_locust_max": round(locust_rps, 1),
        "rps_wrk_max": round(wrk["rps"], 1),
        "ratio_vs_locust": round(raygate[1]["throughput_rps"] / locust_rps, 3),
        "ratio_vs_wrk": round(best / wrk["rps"], 3),
        "open_loop_target_rps": round(target, 1),
        "open_loop_achieved_rps": round(open_loop["achieved_rate_rps"], 1),
        "open_loop_rate_error_pct": round(
            100 * abs(open_loop["achieved_rate_rps"] - target) / target, 2
        ),
        "open_loop_send_lag_ms_p99": round(open_loop["send_lag_ms_p99"], 2),
        # requests due in the window count even when sent late; this says how late it ran
        "open_loop_send_overrun_s": round(open_loop["send_overrun_s"], 3),
        "open_loop_fell_behind": open_loop["fell_behind"],
        "p50_ms_raygate_low_load": round(low_raygate["latency_ms_p50"], 3),
        "p50_ms_wrk_low_load": round(low_wrk["p50_ms"], 3),
        "p50_ms_diff_vs_wrk": round(low_raygate["latency_ms_p50"] - low_wrk["p50_ms"], 3),
    }
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
