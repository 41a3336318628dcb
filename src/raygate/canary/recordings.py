"""Recorded observations in time order, from one or more record files or folders: several
router processes append to one hourly file, so its lines may be slightly out of order; a
canary of hours spans many files, on several nodes."""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from raygate.canary.observations import Observation
from raygate.errors import ConfigError
from raygate.schemas import describe_validation_error

# How far out of order a file's lines may be and still be put in order (seconds of ts); a
# line further back is an error, so that a file of unsorted records is never half-read.
REORDER_SLACK_S = 30.0
SERVE_RECORDS = "requests-*.jsonl"  # what serving writes; eval rows are not a canary's


def read_observations(*sources: str | Path) -> Iterator[Observation]:
    """The observations of every file (and of every folder's serving records) merged in ts
    order, read lazily; a malformed line is a ConfigError naming its file and line."""
    files = _record_files(sources)
    streams = [_in_order(_lines(path, index)) for index, path in enumerate(files)]
    for _, _, _, observation in heapq.merge(*streams):
        yield observation


def _record_files(sources: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            found = sorted(source.glob(SERVE_RECORDS))
            if not found:
                raise ConfigError(
                    f"{source} holds no serving records ({SERVE_RECORDS}); pass the records "
                    "folder (RAYGATE_HOME/telemetry/records) or JSONL files of observations"
                )
            files += found
        elif source.is_file():
            files.append(source)
        else:
            raise ConfigError(f"{source} does not exist; pass a JSONL file of per-request records")
    return files


Entry = tuple[float, int, int, Observation]  # ts, file, line, observation: a total order


def _lines(path: Path, index: int) -> Iterator[tuple[Entry, str]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                raw = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"{where}: not valid JSON ({exc})") from None
            if not isinstance(raw, dict):
                raise ConfigError(f"{where}: expected a JSON object, got {type(raw).__name__}")
            try:
                observation = Observation.model_validate(raw)
            except ValidationError as exc:
                raise ConfigError(f"{where}: {describe_validation_error(exc)}") from None
            yield (observation.ts, index, number, observation), where


def _in_order(lines: Iterator[tuple[Entry, str]]) -> Iterator[Entry]:
    """The entries sorted by ts, holding back only the last REORDER_SLACK_S of them."""
    held: list[Entry] = []
    newest, newest_where = float("-inf"), ""
    for entry, where in lines:
        if entry[0] < newest - REORDER_SLACK_S:
            raise ConfigError(
                f"{where}: ts {entry[0]} is {newest - entry[0]:.0f} s earlier than {newest_where} "
                f"(lines up to {REORDER_SLACK_S:g} s out of order are put in order); sort the "
                "records by ts"
            )
        heapq.heappush(held, entry)
        if entry[0] > newest:
            newest, newest_where = entry[0], where
        while held[0][0] < newest - REORDER_SLACK_S:
            yield heapq.heappop(held)
    while held:
        yield heapq.heappop(held)
