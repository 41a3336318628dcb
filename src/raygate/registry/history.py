"""Alias history kept by raygate (MLflow aliases keep none): entries, encoding, rollback plan."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

from raygate.constants import ALIAS_HISTORY_MAX_ENTRIES
from raygate.errors import RollbackError


@dataclass(frozen=True)
class HistoryEntry:
    """One move of an alias: to `version` from `previous`, when and why."""

    version: int
    previous: int | None
    action: Literal["set", "rollback"]
    at: str
    reason: str = ""


def decode_history(raw: str | None) -> list[HistoryEntry]:
    """Entries from a tag value, oldest first; a missing tag is an empty history."""
    if not raw:
        return []
    try:
        return [HistoryEntry(**item) for item in json.loads(raw)]
    except (ValueError, TypeError) as exc:
        raise RollbackError(
            f"alias history tag is corrupt ({exc}); set the alias explicitly"
        ) from None


def encode_history(entries: list[HistoryEntry]) -> str:
    """Tag value holding the newest ALIAS_HISTORY_MAX_ENTRIES entries (tag values are bounded)."""
    kept = entries[-ALIAS_HISTORY_MAX_ENTRIES:]
    return json.dumps([asdict(e) for e in kept], separators=(",", ":"))


def rollback_target(alias: str, current: int | None, history: list[HistoryEntry]) -> int | None:
    """The version a rollback moves `alias` to, or None when it is already rolled back.

    Idempotent by design: after a rollback, a second call changes nothing, so a restarted
    controller cannot roll back twice.
    """
    if current is None:
        raise RollbackError(f"alias '{alias}' is not set; there is nothing to roll back")
    if not history:
        raise RollbackError(
            f"alias '{alias}' (v{current}) has no raygate history, so the previous version is "
            f"unknown; set it explicitly with `raygate registry alias NAME {alias} VERSION`"
        )
    last = history[-1]
    if last.version != current:
        raise RollbackError(
            f"alias '{alias}' points to v{current}, but raygate last moved it to v{last.version}: "
            f"it was changed outside raygate; set it explicitly with "
            f"`raygate registry alias NAME {alias} VERSION`"
        )
    if last.action == "rollback":
        return None
    if last.previous is None:
        raise RollbackError(
            f"v{current} is the first version raygate gave alias '{alias}'; "
            "there is no previous version to roll back to"
        )
    return last.previous
