"""What a load test sends: prompts from a gold set, a JSONL/Parquet file of prompts, or
synthetic ones, read and sampled with Ray Data, seeded, frozen before the run starts."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from raygate.cluster import quiet_ray_data
from raygate.errors import GoldSetError, LoadTestError
from raygate.goldset.loader import BUILTIN_GOLDSETS, resolve_goldset
from raygate.loadtest.transport import Conversation, Prompt

# the first a file has is read (`text`: a .txt file's lines)
PROMPT_COLUMNS = ("query", "prompt", "messages", "text")
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
    prompts: list[str | Conversation]
    if source == "synthetic":
        prompts = list(synthetic_prompts(size or 1000, synthetic_words, seed))
    else:
        prompts = _read_prompts(source, seed)
        if size is not None:
            prompts = (prompts * (size // len(prompts) + 1))[:size]
    if not prompts:
        raise LoadTestError(f"workload {source!r} has no prompts")
    return tuple(_prompt(item, f"user-{i % users}" if users else None)
                 for i, item in enumerate(prompts))  # fmt: skip


def _prompt(item: str | Conversation, user_id: str | None) -> Prompt:
    if isinstance(item, str):
        return Prompt(item, user_id)
    last_user = next(m["content"] for m in reversed(item) if m["role"] == "user")
    return Prompt(last_user, user_id, item)


def _read_prompts(source: str, seed: int) -> list[str | Conversation]:
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
        elif path.suffix == ".csv":
            dataset = ray.data.read_csv(str(path), **light)
        elif path.suffix == ".txt":  # one prompt a line
            dataset = ray.data.read_text(str(path), drop_empty_lines=True, **light)
        else:
            dataset = ray.data.read_json(str(path), lines=True, **light)
        prompts: list[str | Conversation] = []
        # Arrow batches, read once (asking the schema first would read the file twice); only
        # the prompt column becomes Python strings, no dict per row in the driver.
        for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=65_536):
            prompts.extend(_prompt_values(batch, path))
    except LoadTestError:
        raise
    except Exception as exc:  # Ray Data wraps parse and decoding errors in its own types
        lines = [line for line in str(exc).splitlines() if line.strip()]
        cause = lines[-1] if lines else type(exc).__name__
        raise LoadTestError(
            f"cannot read prompts from {path}: {cause}; write UTF-8 JSON lines (or Parquet, "
            "CSV) with a 'query' or 'prompt' column, or OpenAI chat 'messages', or a .txt "
            "file of one prompt a line"
        ) from None
    # Shuffled here, where the prompts are anyway: Ray Data's shuffle would start a task per
    # block (with no CPU reserved, a worker process each) to reorder a list of strings.
    random.Random(seed).shuffle(prompts)
    return prompts


def _prompt_values(batch, path: Path) -> list[str | Conversation]:
    """The batch's 'query' (else 'prompt') texts, or its 'messages' conversations; an error
    naming the columns it has when it has none of them."""
    columns = batch.column_names
    column = next((c for c in PROMPT_COLUMNS if c in columns), None)
    if column is None:
        raise LoadTestError(
            f"{path} has no 'query', 'prompt' or 'messages' column (columns: "
            f"{', '.join(columns)}); write one JSON object per line with a 'query' (a CSV "
            "header naming one), or a .txt file of one prompt a line"
        )
    values = batch.column(column).to_pylist()
    if column != "messages":
        return [str(value) for value in values if value]
    return [_conversation(value, path) for value in values if value]


def _conversation(messages: Any, path: Path) -> Conversation:
    """OpenAI chat messages as role and text (a content given as parts keeps their text)."""
    turns = []
    for message in messages if isinstance(messages, list) else [None]:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise LoadTestError(
                f'{path}: a \'messages\' value is not a list of {{"role", "content"}} objects '
                "(as OpenAI's chat API takes them); fix it, or give each line a 'query'"
            )
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text") or "" for p in content if isinstance(p, dict))
        turns.append({"role": message["role"], "content": str(content or "")})
    if not any(turn["role"] == "user" for turn in turns):
        raise LoadTestError(f"{path}: a conversation in 'messages' has no user turn to send")
    return tuple(turns)


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
