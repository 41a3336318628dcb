"""Answer quality of each agent config on a gold set: per-category exact match, token F1,
hit@k and refusal rate, with latency and tokens per request.

Each config goes the real way: built, logged to a throwaway MLflow store, loaded as a pyfunc.
Usage: python benchmarks/agent_quality.py [--quick] [--gold dev] [--configs agents/v1.yaml ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from raygate.config import load_agent_config
from raygate.evaluation.scorers import exact_match, hit_at_k, token_f1
from raygate.goldset import GoldRow, load_goldset

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_VERSION = 1
BATCH_SIZE = 64


def score_config(config_path: Path, rows: tuple[GoldRow, ...]) -> dict:
    from raygate.packaging.build import log_agent_model
    from raygate.packaging.loading import load_agent
    from raygate.registry.mlflow_registry import MlflowRegistry

    built = log_agent_model(load_agent_config(config_path))
    loaded = load_agent(built.model_uri, MlflowRegistry())
    per_category: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for start in range(0, len(rows), BATCH_SIZE):
        batch = rows[start : start + BATCH_SIZE]
        out = loaded.predict([{"query": r.query, "request_id": r.id} for r in batch])
        for gold, pred in zip(batch, out.to_dict(orient="records"), strict=True):
            for category in (gold.category or "uncategorized", "all"):
                figures = per_category[category]
                figures["exact_match"].append(exact_match(pred["answer"], gold.expected))
                figures["token_f1"].append(token_f1(pred["answer"], gold.expected))
                figures["refusal_rate"].append(float(pred["refused"]))
                figures["latency_ms"].append(pred["latency_ms_total"])
                figures["tokens_in"].append(pred["tokens_in"])
                figures["tokens_out"].append(pred["tokens_out"])
                hit = hit_at_k(pred["retrieved_ids"], gold.relevant_ids)
                if hit is not None:
                    figures["hit_at_k"].append(hit)
    return {category: summarize(figures) for category, figures in sorted(per_category.items())}


def summarize(figures: dict[str, list[float]]) -> dict:
    latency = np.array(figures["latency_ms"])
    return {
        "rows": len(latency),
        "exact_match": round(float(np.mean(figures["exact_match"])), 4),
        "token_f1": round(float(np.mean(figures["token_f1"])), 4),
        "hit_at_k": round(float(np.mean(figures["hit_at_k"])), 4) if figures["hit_at_k"] else None,
        "refusal_rate": round(float(np.mean(figures["refusal_rate"])), 4),
        "latency_ms_p50": round(float(np.percentile(latency, 50)), 3),
        "latency_ms_p95": round(float(np.percentile(latency, 95)), 3),
        "tokens_in_mean": round(float(np.mean(figures["tokens_in"])), 1),
        "tokens_out_mean": round(float(np.mean(figures["tokens_out"])), 1),
    }


def print_table(console: Console, name: str, results: dict) -> None:
    table = Table(title=name, title_justify="left")
    columns = ["category", "rows", "exact_match", "token_f1", "hit_at_k", "refusal_rate",
               "latency_ms_p50", "latency_ms_p95", "tokens_in_mean", "tokens_out_mean"]  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "category" else "right")
    for category, figures in results.items():
        table.add_row(
            category, *("-" if figures[c] is None else str(figures[c]) for c in columns[1:])
        )
    console.print(table)


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
    console = Console(width=150)
    results = {}
    with tempfile.TemporaryDirectory(prefix="raygate-bench-") as home:
        os.environ["RAYGATE_HOME"] = home
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        for config in configs:
            results[config.stem] = score_config(config, gold.rows)
            print_table(console, f"{config.stem} on {gold.info.name}", results[config.stem])
    summary = {
        "schema_version": SCHEMA_VERSION,
        "goldset": gold.info.name,
        "goldset_hash": gold.info.content_hash,
        "configs": results,
    }
    sys.stdout.write(json.dumps(summary, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
