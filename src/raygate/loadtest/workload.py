"""What a load test sends: prompts from a gold set, a file of prompts or conversations
(JSONL, Parquet, CSV, text, a JSON array such as ShareGPT's), or synthetic ones, read with Ray
Data where it can stream them, seeded, frozen before the run starts."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

from raygate.cluster import quiet_ray_data
from raygate.errors import GoldSetError, LoadTestError, traceback_cause
from raygate.goldset.loader import BUILTIN_GOLDSETS, resolve_goldset, starts_with_bom
from raygate.loadtest.transport import Conversation, Prompt

# the first a file has is read (`text`: a .txt file's lines; `conversations`: ShareGPT's)
PROMPT_COLUMNS = ("query", "prompt", "messages", "conversations", "text")
CONVERSATION_COLUMNS = ("messages", "conversations")
# the model's other inputs, by name: the first a file has (a gold set's are its metadata)
INPUT_COLUMNS = ("inputs", "metadata")
# a prompt (a text or a conversation) and the model's other inputs that go with it
Item = tuple[str | Conversation, dict[str, Any] | None]
# ShareGPT's speakers (`from`) as OpenAI's roles
_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "chatgpt": "assistant",
                   "bing": "assistant", "bard": "assistant", "assistant": "assistant",
                   "system": "system"}  # fmt: skip
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
    turn (sticky routing behaves as with real users; a workload of fewer prompts is cycled
    until each user has one), 0 sends anonymous requests."""
    prompts: list[Item]
    if source == "synthetic":
        prompts = [(text, None) for text in synthetic_prompts(size or 1000, synthetic_words, seed)]
    else:
        prompts = _read_prompts(source, seed)
        if size is not None:
            prompts = (prompts * (size // len(prompts) + 1))[:size]
    if not prompts:
        raise LoadTestError(f"workload {source!r} has no prompts")
    if users > len(prompts):
        prompts = (prompts * (users // len(prompts) + 1))[:users]
    return tuple(_prompt(item, f"user-{i % users}" if users else None)
                 for i, item in enumerate(prompts))  # fmt: skip


def _prompt(item: Item, user_id: str | None) -> Prompt:
    value, inputs = item
    if isinstance(value, str):
        return Prompt(value, user_id, inputs=inputs)
    last_user = next(m["content"] for m in reversed(value) if m["role"] == "user")
    return Prompt(last_user, user_id, value, inputs)


def _read_prompts(source: str, seed: int) -> list[Item]:
    path = _path(source)
    prompts = _array_prompts(path) if _is_json_array(path) else _streamed_prompts(path)
    # Shuffled here, where the prompts are anyway: Ray Data's shuffle would start a task per
    # block (with no CPU reserved, a worker process each) to reorder a list of strings.
    random.Random(seed).shuffle(prompts)
    return prompts


def _streamed_prompts(path: Path) -> list[Item]:
    """The prompts of a file Ray Data reads as it streams (JSON lines, Parquet, CSV, text,
    the text formats gzip-, bzip2-, zstd-, lz4- or brotli-compressed)."""
    import ray

    quiet_ray_data()
    # Light I/O: its tasks reserve no CPU, so that a cluster whose CPUs serving holds (the
    # cluster a load test is run against) still reads the prompts instead of waiting forever;
    # one at a time, as no CPU reserved would otherwise let Ray start a worker process for
    # each (and warn about it on the command's stdout).
    light = {"num_cpus": 0, "concurrency": 1}
    suffix = _format_suffix(path)
    try:
        if suffix == ".parquet":
            dataset = ray.data.read_parquet(str(path), **light)
        elif suffix == ".csv":
            dataset = ray.data.read_csv(str(path), **light)
        elif suffix == ".txt":  # one prompt a line
            dataset = ray.data.read_text(str(path), drop_empty_lines=True, **light)
        else:
            dataset = ray.data.read_json(str(path), lines=True, **light)
        prompts: list[Item] = []
        # Arrow batches, read once (asking the schema first would read the file twice); only
        # the prompt column becomes Python strings, no dict per row in the driver.
        for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=65_536):
            prompts.extend(_prompt_values(batch, path))
    except LoadTestError:
        raise
    except Exception as exc:  # Ray Data wraps parse and decoding errors in its own types
        cause = traceback_cause(str(exc)) or type(exc).__name__
        if starts_with_bom(path):
            cause = "the file starts with a byte-order mark; save it as UTF-8 without BOM"
        raise LoadTestError(
            f"cannot read prompts from {path}: {cause}; write UTF-8 JSON lines (or Parquet, "
            "CSV, a JSON array) with a 'query' or 'prompt' column, or OpenAI chat 'messages', "
            "or a .txt file of one prompt a line"
        ) from None
    return prompts


# Compressed files Ray Data reads as it streams (it infers the codec from the name).
_COMPRESSION_SUFFIXES = frozenset({".gz", ".bz2", ".zst", ".lz4", ".br"})


def _format_suffix(path: Path) -> str:
    """The suffix naming the file's format: `.csv` for `prompts.csv.gz` too."""
    suffixes = path.suffixes
    if suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        return suffixes[-2] if len(suffixes) > 1 else ""
    return path.suffix


def _prompt_values(batch, path: Path) -> list[Item]:
    """The batch's 'query' (else 'prompt') texts, or its 'messages' conversations, each with
    its 'inputs' (else a gold row's 'metadata'); an error naming the columns it has when it
    has no prompt column."""
    columns = batch.column_names
    column = _prompt_column(columns)
    if column is None:
        raise LoadTestError(
            f"{path} has no 'query', 'prompt', 'messages' or 'conversations' column (columns: "
            f"{', '.join(columns)}); write one JSON object per line with a 'query' (a CSV "
            "header naming one), or a .txt file of one prompt a line"
        )
    inputs = _input_column(columns)
    given = _given_inputs(batch.column(inputs).to_pylist(), inputs) if inputs else None
    values = batch.column(column).to_pylist()
    return _prompts_of(values, column, path, given or [None] * len(values))


def _input_column(names) -> str | None:
    """The column of the model's other inputs among `names`: the first of INPUT_COLUMNS."""
    return next((c for c in INPUT_COLUMNS if c in names), None)


def _given_inputs(values: list[Any], column: str) -> list[Any]:
    """An input column's values; a `metadata` column that is not a gold row's (objects) is
    another file's notes, not inputs."""
    if column == "metadata":
        return [value if isinstance(value, dict) else None for value in values]
    return values


def _prompt_column(names) -> str | None:
    """The prompt column among `names` (a file's columns, an item's keys): the first of
    PROMPT_COLUMNS it has."""
    return next((c for c in PROMPT_COLUMNS if c in names), None)


def _prompts_of(values: list[Any], column: str, path: Path, inputs: list[Any]) -> list[Item]:
    """A prompt column's values as texts or conversations, each with its inputs; empty ones
    are left out, and so are ShareGPT conversations without a user turn (its files have a
    few)."""
    items = [(value, _inputs(given, path)) for value, given in zip(values, inputs, strict=True)
             if value]  # fmt: skip
    if column not in CONVERSATION_COLUMNS:
        return [(str(value), given) for value, given in items]
    conversations = ((_conversation(value, path, column), given) for value, given in items)
    return [(turns, given) for turns, given in conversations if turns]


def _inputs(given: Any, path: Path) -> dict[str, Any] | None:
    """One prompt's other inputs: an object of input names (keys another row has and this
    one lacks, which Arrow fills with null, are left out; a row without any reads as NaN
    where Ray Data keeps the column as Python objects)."""
    if given is None or (isinstance(given, float) and math.isnan(given)):
        return None
    if not isinstance(given, dict):
        raise LoadTestError(
            f"{path}: an 'inputs' value is not an object of the model's input names; write "
            f'e.g. "inputs": {{"context": "…"}}'
        )
    return {name: value for name, value in given.items() if value is not None} or None


def _conversation(messages: Any, path: Path, column: str = "messages") -> Conversation:
    """OpenAI chat messages (or ShareGPT's `from`/`value` turns) as role and text, up to the
    last user turn: a recorded answer after it is what the server is asked to give, not sent."""
    turns = []
    for message in messages if isinstance(messages, list) else [None]:
        role = _role(message)
        if role is None:
            raise LoadTestError(
                f'{path}: a \'{column}\' value is not a list of {{"role", "content"}} objects '
                '(as OpenAI\'s chat API takes them) nor of ShareGPT\'s {"from", "value"}; fix '
                "it, or give each line a 'query'"
            )
        content = message.get("content", message.get("value"))
        if isinstance(content, list):
            content = "".join(p.get("text") or "" for p in content if isinstance(p, dict))
        turns.append({"role": role, "content": str(content or "")})
    last_user = max((i for i, turn in enumerate(turns) if turn["role"] == "user"), default=None)
    if last_user is None and column == "conversations":
        return ()
    if last_user is None:
        raise LoadTestError(f"{path}: a conversation in '{column}' has no user turn to send")
    return tuple(turns[: last_user + 1])


def _role(message: Any) -> str | None:
    """A turn's OpenAI role: its own `role`, or ShareGPT's speaker; None if it has neither."""
    speaker = message.get("role", message.get("from")) if isinstance(message, dict) else None
    return _SHAREGPT_ROLES.get(speaker.lower(), speaker) if isinstance(speaker, str) else None


def _is_json_array(path: Path) -> bool:
    """A .json file holding one array (not JSON lines)."""
    if path.suffix != ".json":
        return False
    with path.open("rb") as handle:
        start = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return start.startswith(b"[")


def _array_prompts(path: Path) -> list[Item]:
    """The prompts of a JSON array file (ShareGPT's files are one array), read here: Arrow
    cannot stream an array, and its items' nested fields need not share one type."""
    import json

    try:
        items = json.loads(path.read_bytes())
    except ValueError as exc:
        raise LoadTestError(
            f"{path}: not valid JSON ({exc}); fix it, or write JSON lines"
        ) from None
    prompts: list[Item] = []
    for i, item in enumerate(items):
        column = _prompt_column(item) if isinstance(item, dict) else None
        if column is None:
            raise LoadTestError(
                f"{path}: item {i} of the array has no 'query', 'prompt', 'messages' or "
                "'conversations' field; give each item one"
            )
        inputs = _input_column(item)
        given = _given_inputs([item[inputs]], inputs) if inputs else [None]
        prompts.extend(_prompts_of([item[column]], column, path, given))
    return prompts


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
            "'synthetic', nor an existing file of prompts"
        )
    return path
