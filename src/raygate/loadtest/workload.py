"""What a load test sends: prompts from a gold set, a JSONL/Parquet file of prompts, or
synthetic ones, read and sampled with Ray Data, seeded, frozen before the run starts."""

from __future__ import annotations

import random
from pathlib import Path

from raygate.cluster import quiet_ray_data
from raygate.errors import GoldSetError, LoadTestError
from raygate.goldset.loader import BUILTIN_GOLDSETS, resolve_goldset
from raygate.loadtest.transport import Prompt

PROMPT_COLUMNS = ("query", "prompt")
_WORDS = tuple(
    [
        "order",
        "return",
        "warranty",
        "shipping",
        "price",
        "battery",
        "weight",
        "kettle",
        "lamp",
        "router",
        "switch",
        "speaker",
        "chair",
        "express",
        "fee",
        "policy",
        "repair",
        "refund",
        "days",
        "window",
        "student",
        "discount",
    ]
)


def synthetic_prompts(count: int, words: int, seed: int) -> list[str]:
    """`count` prompts of `words` words from a small catalogue vocabulary (seeded)."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(_WORDS, k=words)) + "?" for _ in range(count)]


def load_workload(
    source: str, size: int | None, users: int, seed: int, synthetic_words: int = 16
) -> tuple[Prompt, ...]:
    """Prompts for the run, shuffled with `seed`; `users` > 0 assigns that many user ids in
    turn (sticky routing behaves as with real users), 0 sends anonymous requests."""
    if source == "synthetic":
        queries = synthetic_prompts(size or 1000, synthetic_words, seed)
    else:
        queries = _read_queries(source, seed)
        if size is not None:
            queries = (queries * (size // len(queries) + 1))[:size]
    if not queries:
        raise LoadTestError(f"workload {source!r} has no prompts")
    return tuple(
        Prompt(query, f"user-{i % users}" if users else None) for i, query in enumerate(queries)
    )


def _read_queries(source: str, seed: int) -> list[str]:
    import ray

    quiet_ray_data()
    path = _path(source)
    # Light I/O: its tasks reserve no CPU, so that a cluster whose CPUs serving holds (the
    # cluster a load test is run against) still reads the prompts instead of waiting forever;
    # one at a time, as no CPU reserved would otherwise let Ray start a worker process for
    # each (and warn about it on the command's stdout).
    light = {"num_cpus": 0, "concurrency": 1}
    try:
        if path.suffix == ".parquet":
            dataset = ray.data.read_parquet(str(path), **light)
        else:
            dataset = ray.data.read_json(str(path), lines=True, **light)
        queries: list[str] = []
        # Arrow batches, read once (asking the schema first would read the file twice); only
        # the prompt column becomes Python strings, no dict per row in the driver.
        for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=65_536):
            queries.extend(str(value) for value in _prompt_column(batch, path) if value)
    except LoadTestError:
        raise
    except Exception as exc:  # Ray Data wraps parse and decoding errors in its own types
        lines = [line for line in str(exc).splitlines() if line.strip()]
        cause = lines[-1] if lines else type(exc).__name__
        raise LoadTestError(
            f"cannot read prompts from {path}: {cause}; write UTF-8 JSON lines (or Parquet) "
            "with a 'query' or 'prompt' column"
        ) from None
    # Shuffled here, where the prompts are anyway: Ray Data's shuffle would start a task per
    # block (with no CPU reserved, a worker process each) to reorder a list of strings.
    random.Random(seed).shuffle(queries)
    return queries


def _prompt_column(batch, path: Path) -> list:
    """The batch's 'query' (else 'prompt') values, or an error naming the columns it has."""
    columns = batch.column_names
    column = next((c for c in PROMPT_COLUMNS if c in columns), None)
    if column is None:
        raise LoadTestError(
            f"{path} has no 'query' or 'prompt' column (columns: {', '.join(columns)}); "
            "write one JSON object per line with a 'query'"
        )
    return batch.column(column).to_pylist()


def _path(source: str) -> Path:
    if source in BUILTIN_GOLDSETS:
        try:
            return resolve_goldset(source)[1]
        except GoldSetError as exc:
            raise LoadTestError(str(exc)) from None
    path = Path(source)
    if not path.is_file():
        raise LoadTestError(
            f"workload {source!r} is not a gold set ({', '.join(BUILTIN_GOLDSETS)}), "
            "'synthetic', nor an existing JSONL/Parquet file"
        )
    return path
