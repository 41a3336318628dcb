"""Read gold sets by built-in name or path, validating every line and hashing the content."""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from raygate.errors import GoldSetError
from raygate.goldset.schema import CONTENT_ID_PREFIX, GoldRow, category_label
from raygate.schemas import describe_validation_error

DATA_DIR = Path(__file__).resolve().parent / "data"
BUILTIN_GOLDSETS = ("smoke", "dev")
# Codecs a gold file is read through, by its name's last suffix (as Ray Data reads it too).
CODECS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class GoldSetInfo:
    """What identifies a gold set: its name and content hash, with row counts."""

    name: str
    path: Path
    content_hash: str
    rows: int
    categories: dict[str, int]


@dataclass(frozen=True)
class GoldSet:
    """A validated gold set held in memory (fine up to a few hundred thousand rows)."""

    info: GoldSetInfo
    rows: tuple[GoldRow, ...]


def resolve_goldset(source: str | Path) -> tuple[str, Path]:
    """A built-in name ('smoke', 'dev') or a JSONL path → (name, path)."""
    if str(source) in BUILTIN_GOLDSETS:
        return str(source), DATA_DIR / f"{source}.jsonl"
    path = Path(source)
    if path.is_file():
        plain = path.with_suffix("") if path.suffix in CODECS else path
        return plain.stem, path
    if path.is_dir():
        found = sorted(p.name for p in path.iterdir() if ".jsonl" in p.suffixes)[:5]
        raise GoldSetError(
            f"gold set '{source}' is a folder; pass one JSONL file"
            + (f" (here: {', '.join(found)})" if found else "")
        )
    if "://" in str(source):
        raise GoldSetError(
            f"gold set '{source}' is a remote URI; gold sets are read from a local file (the "
            "content hash is computed over it): copy it here first"
        )
    raise GoldSetError(
        f"gold set '{source}' is neither a built-in name ({', '.join(BUILTIN_GOLDSETS)}) "
        "nor an existing file; pass a JSONL path with one {query, expected} object a line"
    )


def scan_goldset(source: str | Path) -> GoldSetInfo:
    """Validate every line and hash the content without keeping the rows (streams)."""
    return _read(source, keep=None)


def load_goldset(source: str | Path) -> GoldSet:
    """Validate every line and return the rows with the set's name and content hash."""
    rows: list[GoldRow] = []
    info = _read(source, keep=rows)
    return GoldSet(info=info, rows=tuple(rows))


def _read(source: str | Path, keep: list[GoldRow] | None) -> GoldSetInfo:
    name, path = resolve_goldset(source)
    digest = hashlib.sha256()
    categories: Counter[str] = Counter()
    count = 0
    for row in _validated_rows(path):
        canonical = json.dumps(
            row.model_dump(exclude_none=True), sort_keys=True, ensure_ascii=False
        )
        digest.update(canonical.encode("utf-8") + b"\n")
        categories[row.category or "uncategorized"] += 1
        count += 1
        if keep is not None:
            keep.append(row)
    if count == 0:
        raise GoldSetError(f"{path}: the gold set is empty; add one JSON object a line")
    return GoldSetInfo(
        name, path, "sha256:" + digest.hexdigest(), count, dict(sorted(categories.items()))
    )


def starts_with_bom(path: Path) -> bool:
    """Whether the file begins with a UTF-8 byte-order mark (Excel's and PowerShell's)."""
    with path.open("rb") as handle:
        return handle.read(len(UTF8_BOM)) == UTF8_BOM


def gold_line(text: str) -> GoldRow:
    """One gold line parsed; a byte-order mark, which Ray Data leaves on the first, dropped."""
    return GoldRow.model_validate_json(text.removeprefix("\ufeff"))


def gold_lines(path: Path) -> Iterator[bytes]:
    """The file's lines as bytes, a leading byte-order mark left out; decompressed where its
    name ends in .gz, .bz2 or .zst."""
    codec = CODECS.get(path.suffix)  # as Ray Data reads it: by the exact suffix
    if codec is None:
        with path.open("rb") as handle:
            yield from _without_bom(handle)
        return
    import pyarrow as pa

    try:
        with io.BufferedReader(pa.input_stream(str(path), compression=codec)) as handle:
            yield from _without_bom(handle)
    except OSError as exc:  # pyarrow's error for a cut or mislabelled file
        raise GoldSetError(
            f"{path}: cannot be read as {codec} ({str(exc).splitlines()[0]}); check that the file "
            f"is whole and {codec}-compressed, or give it the name of what it is"
        ) from None


def _without_bom(lines: Iterable[bytes]) -> Iterator[bytes]:
    for lineno, line in enumerate(lines):
        yield line.removeprefix(UTF8_BOM) if lineno == 0 else line


def _validated_rows(path: Path) -> Iterator[GoldRow]:
    first_line_of: dict[str, int] = {}
    for lineno, raw in enumerate(gold_lines(path), start=1):
        line = _decoded(path, lineno, raw)
        if not line.strip():
            continue
        row = _parse(path, lineno, line)
        if row.id in first_line_of:
            first = first_line_of[row.id]
            raise GoldSetError(
                f"{path}:{lineno}: the same query and expected answers as line {first} "
                "(a row without an id is known by them); remove one or give each an id"
                if row.id.startswith(CONTENT_ID_PREFIX)
                else f"{path}:{lineno}: field 'id': duplicate id '{row.id}' "
                f"(first on line {first}); ids must be unique"
            )
        first_line_of[row.id] = lineno
        yield row


# Files a gold set is often kept in that are not text, by their first bytes: how to convert.
_TO_JSONL = "to_json('gold.jsonl', orient='records', lines=True)"
_AS_CSV = "convert it first: save it as CSV and run `raygate goldset show` on that"
_RENAME = "give it a name ending in .gz, .bz2 or .zst (raygate reads those) or convert it, e.g."
_BINARY_FORMATS = {
    b"\x1f\x8b": ("gzip-compressed", f"{_RENAME} `gunzip -k {{name}}`"),
    b"BZh": ("bzip2-compressed", f"{_RENAME} `bunzip2 -k {{name}}`"),
    b"\xfd7zXZ\x00": ("xz-compressed", "convert it first, e.g. `unxz -k {name}`"),
    b"\x28\xb5\x2f\xfd": ("zstd-compressed", f"{_RENAME} `unzstd {{name}}`"),
    b"PAR1": ("Parquet", "convert it first, e.g. "
              f"`python -c \"import pandas as p; p.read_parquet('{{name}}').{_TO_JSONL}\"`"),
    b"PK\x03\x04": ("a zip archive (an Excel .xlsx workbook is one)",
                    f"convert it first, e.g. `unzip {{name}}`, or for a workbook {_AS_CSV}"),
    b"\xd0\xcf\x11\xe0": ("an Excel .xls workbook", _AS_CSV),
}  # fmt: skip


def _decoded(path: Path, lineno: int, raw: bytes) -> str:
    """One line as text; a binary file or bytes that are not UTF-8 are named."""
    for magic, (kind, how) in _BINARY_FORMATS.items() if lineno == 1 else ():
        if raw.startswith(magic):
            raise GoldSetError(
                f"{path}: the file is {kind}, not JSON Lines text; gold sets are one JSON "
                f"object a line: {how.format(name=path.name)}"
            )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GoldSetError(
            f"{path}:{lineno}: byte {raw[exc.start]:#04x} at column {exc.start + 1} is not "
            "UTF-8; save the file as UTF-8"
        ) from None


# What other tools call a gold row's question and answers, for the hint when they are used.
_RENAMES = {
    "query": {"question", "prompt", "input", "user_input"},
    "expected": {"answer", "answers", "expected_answer", "expected_output", "expected_response",
                 "ground_truth", "reference", "target", "output"},
}  # fmt: skip


def _parse(path: Path, lineno: int, line: str) -> GoldRow:
    try:
        return GoldRow.model_validate_json(line)
    except ValidationError as exc:
        extra = [e["loc"][0] for e in exc.errors() if e["type"] == "extra_forbidden"]
        hint = (f" (keep your own fields under metadata, e.g. \"metadata\": {{\"{extra[0]}\": …}})"
                if extra else "")  # fmt: skip
        missing = {e["loc"][0] for e in exc.errors() if e["type"] == "missing"}
        if any(e["loc"] == ("expected",) and e["type"] in ("missing", "too_short")
               for e in exc.errors()):  # fmt: skip
            hint = _no_answer_hint(line)
        renames = [f"{name} → {field}" for name in extra for field, names in _RENAMES.items()
                   if field in missing and name in names]  # fmt: skip
        if renames:
            hint = f" (rename {', '.join(renames)})"
        if {"inputs", "expectations"} & set(extra):
            hint = (" (this line is an MLflow evaluation-dataset record: write the question of "
                    "its inputs as query, expectations.expected_response as expected)")  # fmt: skip
        if any(e["type"] == "json_invalid" for e in exc.errors()) or line.lstrip()[:1] == "[":
            hint = _format_hint(path, line)
        raise GoldSetError(
            f"{path}:{lineno}: {describe_validation_error(exc)}; each line is one JSON object "
            f"with query, expected and optionally id, relevant_ids, category, match, "
            f"metadata{hint}"
        ) from None


# What a row scored by its model's behaviour has as its expected answer, by category.
_BEHAVIOUR = {
    "unanswerable": ("abstains", "I don't know."),
    "disallowed": ("refuses", "I can't help with that request."),
}


def _no_answer_hint(line: str) -> str:
    """How to fill `expected` on a row that has none: for a row scored by whether the model
    abstains or refuses, with what that says (exact_match and token_f1 still compare)."""
    try:
        category = json.loads(line).get("category")
    except (ValueError, AttributeError):
        category = None
    behaviour = _BEHAVIOUR.get(category_label(category) if isinstance(category, str) else "")
    if behaviour is None:
        return ' (give at least one acceptable answer, e.g. "expected": ["30 days"])'
    does, says = behaviour
    return (
        f" (a row of category {category_label(category)} is correct when the model {does}; "
        f'give what that says as its expected answer, e.g. "expected": ["{says}"], which '
        "exact_match and token_f1 compare against)"
    )


def _format_hint(path: Path, line: str) -> str:
    """What a line that is not JSON suggests the file is instead, and how to convert it."""
    start = line.lstrip()[:1]
    if start == "[":
        return (" (the file looks like one JSON array: write one object a line, e.g. "
                f"`jq -c '.[]' {path.name} > gold.jsonl`)")  # fmt: skip
    if start == "{" and not line.rstrip().endswith("}"):
        return (" (an object looks spread over several lines: write each on one line, e.g. "
                f"`jq -c . {path.name} > gold.jsonl`)")  # fmt: skip
    if start != "{" and (path.suffix.lower() in (".csv", ".tsv") or "," in line or "\t" in line):
        return (
            " (the file looks like CSV: gold sets are JSON Lines, e.g. convert it with "
            f"`python -c \"import pandas as p; p.read_csv('{path.name}').{_TO_JSONL}\"`)"
        )
    return ""
