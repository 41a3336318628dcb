"""PII detectors with validation (IBAN mod-97, IP ranges, SSN areas) and redaction.

Presidio needs a spaCy model download, which is impossible offline, so raygate ships its own
detectors for the kinds that leak in support conversations. Cards are detected by shape
alone (13–19 digits, grouped or not): a mistyped card that fails Luhn is still a card.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PiiMatch:
    """One detected value: its kind, where it is, and the text."""

    kind: str
    start: int
    end: int
    text: str


def _card_shaped(text: str) -> bool:
    return 13 <= sum(c.isdigit() for c in text) <= 19


def _iban_ok(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _ssn_ok(text: str) -> bool:
    area, group, serial = text.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _ip_ok(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _phone_ok(text: str) -> bool:
    return 9 <= sum(c.isdigit() for c in text) <= 15


# Order matters: earlier kinds win where matches overlap (a card number is not a phone).
_DETECTORS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool] | None], ...] = (
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b", re.I), None),
    ("api_key", re.compile(
        r"\b(?:sk|pk|rk)[-_](?:live[-_]|test[-_])?[A-Za-z0-9]{16,}\b"
        r"|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b"
        r"|\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b"), None),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"), _iban_ok),
    ("card", re.compile(r"\b\d(?:[ -]?\d){12,18}\b"), _card_shaped),
    ("ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), _ssn_ok),
    ("ip", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b|\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b", re.I),
     _ip_ok),
    ("phone", re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?\(?\d{2,4}\)?(?:[ .-]\d{2,4}){2,4}\b"),
     _phone_ok),
)  # fmt: skip

PII_KINDS = tuple(kind for kind, _, _ in _DETECTORS)


def find_pii(text: str) -> list[PiiMatch]:
    """Every validated PII value in text, left to right, without overlaps."""
    matches: list[PiiMatch] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern, valid in _DETECTORS:
        for m in pattern.finditer(text):
            if valid is not None and not valid(m.group()):
                continue
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append((m.start(), m.end()))
            matches.append(PiiMatch(kind, m.start(), m.end(), m.group()))
    return sorted(matches, key=lambda p: p.start)


def redact(text: str, matches: list[PiiMatch] | None = None) -> str:
    """Text with each PII value replaced by `[KIND]`; pass `matches` if find_pii already ran."""
    for match in reversed(find_pii(text) if matches is None else matches):
        text = f"{text[: match.start]}[{match.kind.upper()}]{text[match.end :]}"
    return text


def _digits_or_text(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return digits if len(digits) >= 7 else value.lower()


def leaked_pii(source: str, output: str) -> list[PiiMatch]:
    """PII values of `source` that reappear in `output` (digits compared without separators)."""
    if not output:
        return []
    output_digits, output_lower = re.sub(r"\D", "", output), output.lower()
    leaks = []
    for match in find_pii(source):
        key = _digits_or_text(match.text)
        haystack = output_digits if key.isdigit() else output_lower
        if key in haystack:
            leaks.append(match)
    return leaks
