"""Driver memory in the size of the work: peak RSS of the `raygate eval` driver with a trivial
pyfunc on a small and a 20× larger synthetic gold set, and of the `raygate loadtest` driver for
a short and a 10× longer open-loop run against a trivial endpoint on 127.0.0.1; and the error
of the streamed percentiles (sketch) against exact percentiles of the same data, read back from
the eval table and the load test's results file.

Each driver is the real CLI in a subprocess of its own (with its own local Ray), which reports
its own peak RSS (getrusage RUSAGE_SELF: the driver process only, not Ray's processes).

Usage: python benchmarks/scale_memory.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from loadgen_ceiling import start_server  # a sibling script: the trivial endpoint, started

from raygate.testing import free_port

SCHEMA_VERSION = 1
GOAL_RATIO = 1.3
# The CLI, run in-process, writing its own peak RSS (KiB on Linux) to $PEAK_FILE at exit.
DRIVER = """
import atexit, os, resource, sys
def _peak():
    with open(os.environ["PEAK_FILE"], "w") as out:
        out.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
atexit.register(_peak)
from raygate.cli.main import main
sys.argv = ["raygate", *sys.argv[1:]]
main()
"""
TRIVIAL_MODEL = """
import mlflow
from mlflow.models import set_model

class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [{"answer": "60 days", "tokens_in": 8, "tokens_out": 2}
                for _ in model_input["query"]]

set_model(Echo())
"""
CATEGORIES = ("factual", "policy", "unanswerable", "disallowed")


def run_driver(args: list[str], env: dict[str, str], workdir: Path) -> tuple[float, dict]:
    """Run `raygate ARGS --json`; its peak RSS in MiB and its JSON output."""
    peak = workdir / f"peak-{time.monotonic_ns()}"
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, *args, "--json"], cwd=workdir,
        env=env | {"PEAK_FILE": str(peak)}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"raygate {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return int(peak.read_text()) / 1024, json.loads(done.stdout)


def write_gold(path: Path, rows: int) -> Path:
    rng = np.random.default_rng(0)
    with path.open("w") as out:
        for i in range(rows):
            category = CATEGORIES[i % len(CATEGORIES)]
            words = " ".join(rng.choice(["return", "window", "kettle", "lamp", "fee"], 8))
            out.write(json.dumps({"id": f"q{i:07d}", "query": f"{words}?", "expected": ["60 days"],
                                  "category": category}) + "\n")  # fmt: skip
    return path


def log_trivial_model(workdir: Path, env: dict[str, str]) -> str:
    """Log the trivial pyfunc (models-from-code) into the benchmark's own MLflow store."""
    entry = workdir / "trivial_model.py"
    entry.write_text(TRIVIAL_MODEL)
    code = (
        "import mlflow, sys\n"
        "info = mlflow.pyfunc.log_model(name='model', python_model=sys.argv[1], "
        "pip_requirements=['mlflow'])\n"
        "print(info.model_uri)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(entry)], env=env, cwd=workdir,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def sketch_error(exact: np.ndarray, reported: dict[str, float], prefix: str) -> dict:
    """Relative error of each reported percentile against numpy's on the same values."""
    errors = {}
    for p in (50, 95, 99):
        truth = float(np.percentile(exact, p))
        errors[f"p{p}"] = abs(reported[f"{prefix}_p{p}"] / truth - 1)
    return errors


def measure_eval(sizes: tuple[int, int], workdir: Path, env: dict[str, str]) -> dict:
    import pyarrow.parquet as pq

    model_uri = log_trivial_model(workdir, env)
    figures: dict = {}
    for rows in sizes:
        gold = write_gold(workdir / f"gold-{rows}.jsonl", rows)
        started = time.perf_counter()
        peak_mib, result = run_driver(
            ["eval", model_uri, "--gold", str(gold), "--workers", "2", "--batch-size", "256"],
            env, workdir,
        )  # fmt: skip
        figures[rows] = {"peak_rss_mib": round(peak_mib, 1),
                         "wall_s": round(time.perf_counter() - started, 1)}  # fmt: skip
        print(f"eval {rows} rows: driver peak {peak_mib:.0f} MiB", file=sys.stderr)
    # Exact percentiles of the larger run's table, read back here (not by the driver).
    import mlflow

    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    table = mlflow.artifacts.download_artifacts(
        run_id=result["run_id"], artifact_path="eval_table.parquet", dst_path=str(workdir)
    )
    latency = pq.read_table(table, columns=["latency_ms"]).column(0).to_numpy()
    figures["sketch_relative_error"] = sketch_error(latency, result["metrics"], "latency_ms")
    return figures


def measure_loadtest(durations: tuple[float, float], rate: float, workdir: Path,
                     env: dict[str, str]) -> dict:  # fmt: skip
    import pyarrow.parquet as pq

    port = free_port()
    server = start_server(port)  # the trivial endpoint, answering once it listens
    figures: dict = {}
    try:
        url = f"http://127.0.0.1:{port}"
        for duration in durations:
            out = workdir / f"load-{duration:g}"
            peak_mib, summary = run_driver(
                ["loadtest", url, "--rate", f"{rate:g}", "--duration", f"{duration:g}",
                 "--arrival", "constant", "--workload", "synthetic", "--size", "1000",
                 "--out", str(out)],
                env, workdir,
            )  # fmt: skip
            figures[duration] = {"peak_rss_mib": round(peak_mib, 1),
                                 "requests": summary["requests"],
                                 "percentiles": summary.get("percentiles", "exact")}  # fmt: skip
            print(f"loadtest {duration:g} s: driver peak {peak_mib:.0f} MiB, "
                  f"{summary['requests']} requests", file=sys.stderr)  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)
    results = pq.read_table(out / "results.parquet", columns=["latency_ms", "ok"])
    ok = results.column("ok").to_numpy(zero_copy_only=False)
    latency = results.column("latency_ms").to_numpy()[ok]
    figures["sketch_relative_error"] = sketch_error(latency, summary, "latency_ms")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2k vs 40k rows, 3 s vs 30 s")
    options = parser.parse_args()
    gold_sizes = (2_000, 40_000) if options.quick else (10_000, 200_000)
    durations = (3.0, 30.0) if options.quick else (10.0, 100.0)
    rate = 500.0
    with tempfile.TemporaryDirectory(prefix="raygate-scale-") as tmp:
        workdir = Path(tmp)
        env = os.environ | {  # runs and artifacts (./mlruns) stay in the work folder
            "MLFLOW_TRACKING_URI": f"sqlite:///{workdir}/mlflow.db",
            "RAYGATE_TELEMETRY_DIR": str(workdir / "telemetry"),
            "RAY_ADDRESS": "",  # each driver starts its own local Ray
        }
        evaluation = measure_eval(gold_sizes, workdir, env)
        load = measure_loadtest(durations, rate, workdir, env)
    small, large = gold_sizes
    short, long = durations
    eval_ratio = evaluation[large]["peak_rss_mib"] / evaluation[small]["peak_rss_mib"]
    load_ratio = load[long]["peak_rss_mib"] / load[short]["peak_rss_mib"]
    print(json.dumps({
        "benchmark": "scale_memory", "schema_version": SCHEMA_VERSION, "quick": options.quick,
        "eval": {str(k): v for k, v in evaluation.items()},
        "loadtest": {f"{k:g}s" if isinstance(k, float) else k: v for k, v in load.items()},
        "loadtest_rate_rps": rate,
        "eval_rss_ratio_200k_vs_10k": round(eval_ratio, 3),  # --quick: 40k vs 2k
        "loadtest_rss_ratio_100s_vs_10s": round(load_ratio, 3),  # --quick: 30 s vs 3 s
        "goal_ratio": GOAL_RATIO,
        "sizes": {"eval_rows": list(gold_sizes), "loadtest_s": list(durations)},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
