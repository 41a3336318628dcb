"""Write the shipped reference corpus and gold sets: `python -m raygate.goldset.generate`."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from raygate.goldset.catalog import build_catalog
from raygate.goldset.documents import render_corpus
from raygate.goldset.questions import make_questions

DEFAULT_SEED = 20261127
DATA_DIR = Path(__file__).resolve().parent / "data"
DEV_COUNTS = {
    "factual": 210,
    "numeric": 80,
    "multi_hop": 80,
    "unanswerable": 60,
    "pii": 45,
    "disallowed": 40,
}
SMOKE_PER_CATEGORY = 5


def generate(seed: int = DEFAULT_SEED) -> dict[str, list[dict]]:
    """The corpus and gold sets as lists of JSON-ready dicts; same seed, same bytes."""
    rng = random.Random(seed)
    catalog = build_catalog(rng)
    dev = make_questions(rng, catalog, DEV_COUNTS)
    for row in dev:
        if not row["relevant_ids"]:
            del row["relevant_ids"]
    smoke_ids = {f"{c}-{i:04d}" for c in DEV_COUNTS for i in range(1, SMOKE_PER_CATEGORY + 1)}
    smoke = [row for row in dev if row["id"] in smoke_ids]
    return {"corpus": render_corpus(catalog), "dev": dev, "smoke": smoke}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_text("".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="RNG seed (default: %(default)s)"
    )
    parser.add_argument(
        "--out", type=Path, default=DATA_DIR, help="output folder (default: package data)"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in generate(args.seed).items():
        write_jsonl(args.out / f"{name}.jsonl", rows)
        print(f"wrote {len(rows)} rows to {args.out / f'{name}.jsonl'}")


if __name__ == "__main__":
    main()
