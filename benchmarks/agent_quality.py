"""Answer quality of each agent config on a gold set: per-category exact match, token F1,
quality, hit@k, refusal accuracy and PII leaks, with latency and tokens per request.

Each config goes the real way: built, logged to a throwaway MLflow store, loaded as a pyfunc,
and scored with the same row scorer and metrics as `raygate eval` (in one process, no Ray).
Usage: python benchmarks/agent_quality.py [--quick] [--gold dev] [--configs agents/v1.yaml ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from raygate.config import load_agent_config
from raygate.errors import GeneratorError
from raygate.evaluation.metrics import MetricsAccumulator
from raygate.evaluation.predictions import normalize_predictions
from raygate.evaluation.rows import score_row
from raygate.goldset import GoldRow, load_goldset

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_VERSION = 3
SAFETY_SET = ROOT / "tests" / "data" / "safety_prompts.jsonl"
BATCH_SIZE = 64
HEADLINE = ("quality", "exact_match", "token_f1", "hit_at_k", "context_precision",
            "context_use_rate", "refusal_accuracy",
            "abstention_accuracy", "over_refusal_rate", "pii_leak_count", "latency_ms_p50",
            "latency_ms_p95", "tokens_in_per_request", "tokens_out_per_request")  # fmt: skip
PER_CATEGORY = ("rows", "quality", "exact_match", "token_f1")


def score_config(config_path: Path, rows: tuple[GoldRow, ...]) -> dict:
    from raygate.packaging.build import log_agent_model
    from raygate.packaging.loading import load_agent
    from raygate.registry.mlflow_registry import MlflowRegistry

    built = log_agent_model(load_agent_config(config_path))
    loaded = load_agent(built.model_uri, MlflowRegistry())
    accumulator = MetricsAccumulator()
    for start in range(0, len(rows), BATCH_SIZE):
        batch = rows[start : start + BATCH_SIZE]
        raw = loaded.predict([{"query": r.query, "request_id": r.id} for r in batch])
        predictions = normalize_predictions(raw, len(batch))
        accumulator.add(
            pd.DataFrame([score_row(g, p) for g, p in zip(batch, predictions, strict=True)])
        )
    values = accumulator.finish(seed=0).values
    safety = score_safety_set(loaded)
    categories = sorted({k.split(".", 1)[1] for k in values if k.startswith("rows.")})
    return {
        "overall": {k: round(values[k], 4) for k in HEADLINE if k in values},
        "by_category": {
            c: {m: round(values[f"{m}.{c}"], 4) for m in PER_CATEGORY} for c in categories
        },
        "safety_set": safety,
    }


def score_safety_set(loaded) -> dict:
    """Refusal rate on the independent harmful prompts and over-refusal rate on the benign
    look-alikes (tests/data/safety_prompts.jsonl), through the loaded pyfunc."""
    from raygate.evaluation.scorers import is_refusal

    rows = [json.loads(line) for line in SAFETY_SET.read_text().splitlines()]
    refused = []
    for start in range(0, len(rows), BATCH_SIZE):
        batch = rows[start : start + BATCH_SIZE]
        raw = loaded.predict([{"query": r["prompt"]} for r in batch])
        for p in normalize_predictions(raw, len(batch)):
            refused.append(is_refusal(p.get("answer") or "", p.get("refused")))
    harmful = [r for r, f in zip(rows, refused, strict=True) if r["harmful"]]
    benign = [r for r, f in zip(rows, refused, strict=True) if not r["harmful"]]
    hits = dict(zip((r["prompt"] for r in rows), refused, strict=True))
    return {
        "harmful": len(harmful),
        "benign": len(benign),
        "refusal_rate": round(sum(hits[r["prompt"]] for r in harmful) / len(harmful), 4),
        "over_refusal_rate": round(sum(hits[r["prompt"]] for r in benign) / len(benign), 4),
    }


def print_tables(console: Console, name: str, result: dict) -> None:
    overall = Table(title=f"{name}: overall", title_justify="left")
    for key in result["overall"]:
        overall.add_column(key, justify="right")
    overall.add_row(*(f"{v:g}" for v in result["overall"].values()))
    console.print(overall)
    by_category = Table(title=f"{name}: by category", title_justify="left")
    by_category.add_column("category")
    for metric in PER_CATEGORY:
        by_category.add_column(metric, justify="right")
    for category, figures in result["by_category"].items():
        by_category.add_row(category, *(f"{figures[m]:g}" for m in PER_CATEGORY))
    console.print(by_category)
    safety = result["safety_set"]
    console.print(
        f"{name}: safety set refusal rate {safety['refusal_rate']:.3f} on {safety['harmful']} "
        f"harmful, over-refusal {safety['over_refusal_rate']:.3f} on {safety['benign']} benign"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="use the 30-row smoke set")
    parser.add_argument("--gold", default=None, help="gold set name or JSONL path (default: dev)")
    parser.add_argument(
        "--configs", nargs="*", type=Path, help="agent configs (default: agents/*.yaml)"
    )
    args = parser.parse_args(argv)
    gold = load_goldset(args.gold or ("smoke" if args.quick else "dev"))
    configs = args.configs or sorted((ROOT / "agents").glob("*.yaml"))
    console = Console(width=200)
    results = {}
    with tempfile.TemporaryDirectory(prefix="raygate-bench-") as home:
        os.environ["RAYGATE_HOME"] = home
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        for config in configs:
            try:
                results[config.stem] = score_config(config, gold.rows)
            except GeneratorError as exc:  # e.g. the vllm config on a machine without a GPU
                results[config.stem] = {"skipped": str(exc)}
                console.print(f"{config.stem}: skipped ({exc})")
                continue
            print_tables(console, f"{config.stem} on {gold.info.name}", results[config.stem])
    summary = {
        "schema_version": SCHEMA_VERSION,
        "goldset": gold.info.name,
        "goldset_hash": gold.info.content_hash,
        "configs": results,
    }
    sys.stdout.write(json.dumps(summary, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
