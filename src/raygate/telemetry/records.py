"""Per-request records: one JSON line per answered request, hourly files, a retention
period, and identities and content only as keyed hashes (HMAC-SHA256) — never raw.

Serving and eval write them; `raygate canary replay` reads them (its fields are a subset).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from raygate.secrets import get_secret
from raygate.telemetry.paths import telemetry_dir
from raygate.telemetry.pii import redact

ENV_RECORDS = "RAYGATE_RECORDS"  # on (default) | off
ENV_RECORD_KEY = "RAYGATE_RECORD_KEY"
ENV_RETENTION_DAYS = "RAYGATE_RECORDS_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30
RECORDS_FOLDER = "records"
_KEY_FILE = ".record_key"
_ERROR_CHARS = 300


class RequestRecord(BaseModel):
    """One request, as DESIGN.md's minimal log names it. Ids of people and requests are
    keyed hashes; no prompt or answer text is ever a field."""

    model_config = ConfigDict(extra="forbid")

    ts: float = Field(description="When the request finished, Unix seconds.")
    source: Literal["serve", "eval"] = Field(description="Who wrote it.")
    variant: Literal["champion", "canary", "eval"] = Field(description="Who answered.")
    status: int = Field(ge=100, le=599, description="HTTP status (eval: 200 or 500).")
    finish_reason: str = Field(description="How the request ended.")
    trace_id: str | None = Field(description="Trace of the request (32 hex digits).")
    span_id: str | None = Field(description="The recording span (16 hex digits).")
    model_id: str | None = Field(description="name@version that answered.")
    prompt_id: str | None = Field(description="Prompt template as id@version.")
    run_id: str | None = Field(None, description="Eval: the MLflow run.")
    request: str | None = Field(description="Keyed hash of the caller's request_id.")
    user: str | None = Field(description="Keyed hash of the user id.")
    session: str | None = Field(description="Keyed hash of the session id.")
    latency_ms: float | None = Field(description="End-to-end latency where it was measured.")
    latency_ms_total: float | None = Field(description="The model's own answer time.")
    latency_ms_llm: float | None = Field(description="Of that, time in the generator.")
    tokens_in: int | None = Field(description="Prompt tokens; null if unknown.")
    tokens_out: int | None = Field(description="Output tokens; null if unknown.")
    tokens_cached: int | None = Field(description="Cached prompt tokens; null if unknown.")
    cost_usd: float | None = Field(description="USD from the pricing table; null if unpriced.")
    retriever_k: int | None = Field(description="Documents retrieval was asked for.")
    hit_at_k: float | None = Field(description="1.0 if a gold document was retrieved.")
    context_precision: float | None = Field(description="Context precision@k.")
    context_use_rate: float | None = Field(description="Answer words found in the context.")
    safety_flags: list[str] = Field(description="Safety decisions (rule names, no content).")
    error: str | None = Field(description="Why it failed, PII redacted, cut to 300 characters.")


def record_key() -> bytes:
    """$RAYGATE_RECORD_KEY, else a random key kept (mode 0600) beside the records, so every
    process on this machine hashes an id the same way."""
    explicit = get_secret(ENV_RECORD_KEY)
    if explicit:
        return explicit.encode()
    path = telemetry_dir() / _KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def keyed_hash(value: str | None, key: bytes) -> str | None:
    """HMAC-SHA256 of value, cut to 16 bytes (hex): joinable, not reversible without the key."""
    if value is None:
        return None
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def build_record(
    prediction: Mapping[str, Any],
    *,
    source: Literal["serve", "eval"],
    variant: str,
    status: int,
    key: bytes,
    caller: Mapping[str, Any],
    latency_ms: float | None,
    span_id: str | None = None,
    run_id: str | None = None,
) -> RequestRecord:
    """A record from a prediction row (any pyfunc's: missing fields are null) and what the
    caller sent (`request_id`, `user_id`, `session_id`, hashed here)."""
    error = prediction.get("error")
    return RequestRecord(
        ts=time.time(),
        source=source,
        variant=variant,
        status=status,
        finish_reason=str(
            prediction.get("finish_reason") or ("answer" if status < 400 else "error")
        ),
        trace_id=prediction.get("trace_id"),
        span_id=span_id,
        model_id=prediction.get("model_id"),
        prompt_id=prediction.get("prompt_id"),
        run_id=run_id,
        request=keyed_hash(caller.get("request_id"), key),
        user=keyed_hash(caller.get("user_id"), key),
        session=keyed_hash(caller.get("session_id"), key),
        latency_ms=latency_ms,
        latency_ms_total=_number(prediction.get("latency_ms_total")),
        latency_ms_llm=_number(prediction.get("latency_ms_llm")),
        tokens_in=_count(prediction.get("tokens_in")),
        tokens_out=_count(prediction.get("tokens_out")),
        tokens_cached=_count(prediction.get("tokens_cached")),
        cost_usd=_number(prediction.get("cost_usd")),
        retriever_k=_count(prediction.get("retriever_k")),
        hit_at_k=_number(prediction.get("hit_at_k")),
        context_precision=_number(prediction.get("context_precision")),
        context_use_rate=_number(prediction.get("context_use_rate")),
        safety_flags=[str(f) for f in prediction.get("safety_flags") or []],
        error=redact(str(error))[:_ERROR_CHARS] if error else None,
    )


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN is missing


def _count(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


class RecordWriter:
    """Appends records to `<dir>/<prefix>-YYYYMMDD-HH.jsonl` (UTC hour); each record is one
    append, so replicas sharing a file never interleave. Files past retention are removed
    when the hour turns."""

    def __init__(
        self,
        folder: Path | None = None,
        prefix: str = "requests",
        retention_days: float | None = None,
    ) -> None:
        self.folder = folder or telemetry_dir() / RECORDS_FOLDER
        self._prefix = prefix
        days = retention_days or float(os.environ.get(ENV_RETENTION_DAYS, DEFAULT_RETENTION_DAYS))
        self._retention = timedelta(days=days)
        self._hour: str | None = None
        self._fd: int | None = None

    def write(self, record: RequestRecord) -> None:
        hour = datetime.now(UTC).strftime("%Y%m%d-%H")
        if hour != self._hour:
            self._open(hour)
        os.write(self._fd, (record.model_dump_json() + "\n").encode("utf-8"))

    def _open(self, hour: str) -> None:
        """The hour's file, kept open until the hour turns; older files past retention go."""
        self.folder.mkdir(parents=True, exist_ok=True)
        prune(self.folder, self._retention)
        path = self.folder / f"{self._prefix}-{hour}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.close()
        self._fd, self._hour = fd, hour

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd, self._hour = None, None

    def __del__(self) -> None:
        self.close()


def records_enabled() -> bool:
    """False when $RAYGATE_RECORDS is off (or 0/false/no)."""
    return os.environ.get(ENV_RECORDS, "on").strip().lower() not in ("off", "0", "false", "no")


def prune(folder: Path, older_than: timedelta) -> list[Path]:
    """Remove record and span files last written before now − older_than; returns them."""
    cutoff = time.time() - older_than.total_seconds()
    removed = []
    for path in sorted(folder.glob("*.jsonl")):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue  # another process pruned it
    return removed
