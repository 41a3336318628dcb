"""PII detectors with validation (IBAN mod-97, IP ranges, SSN areas) and redaction.

Presidio needs a spaCy model download, which is impossible offline, so raygate ships its own
detectors for the kinds that leak in support conversations. Cards are detected by shape
alone (13–19 digits, grouped or not): a mistyped card that fails Luhn is still a card.
"""

from __future__ import annotations

import bisect
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
    # "fe80::1" is an address; "a::b" (code) and "::1" (loopback) are not someone's.
    groups = [group for group in text.split(":") if group]
    return ":" not in text or (len(groups) >= 2 and any(c.isdigit() for c in text))


def _key_ok(text: str) -> bool:
    """An `sk-`/`pk-`/`rk-` key has a random part of 16 characters or more between its
    dashes ("sk-learn-style-estimators" is no key)."""
    if not re.match(r"(?:sk|pk|rk)[-_]", text):
        return True
    return max(len(part) for part in re.split(r"[-_]", text)) >= 16


# A date, or a date and the hour of a time, has a phone's shape ("2024-01-15 10").
_DATE_SHAPED = re.compile(r"\d{4}([-.])\d{2}\1\d{2}\b|\d{2}([-.])\d{2}\2\d{4}\b")


def _phone_ok(text: str, fewest_digits: int = 9) -> bool:
    digits = sum(c.isdigit() for c in text)
    return fewest_digits <= digits <= 15 and not _DATE_SHAPED.match(text)


def _named_phone_ok(text: str) -> bool:
    """A number a word calls a phone number may be a local one, of seven digits."""
    return _phone_ok(text, fewest_digits=7)


# Order matters: earlier kinds win where matches overlap (a card number is not a phone).
_DETECTORS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool] | None], ...] = (
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b", re.I), None),
    # Stripe's and OpenAI's (sk-proj-…, sk-svcacct-…) and Anthropic's (sk-ant-api03-…) keys,
    # AWS access key ids, GitHub, Slack, Google, Hugging Face and GitLab tokens, JWTs.
    ("api_key", re.compile(
        r"\b(?:sk|pk|rk)[-_][\w-]{16,}"
        r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bgithub_pat_\w{22,}"
        r"|\bxox[abposr]-[A-Za-z0-9-]{10,}|\bAIza[\w-]{35}|\bhf_[A-Za-z0-9]{30,}\b"
        r"|\bglpat-[\w-]{20,}"
        r"|\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b"), _key_ok),
    # Whatever follows "Bearer" (an Authorization header pasted into a question) is a token.
    ("api_key", re.compile(r"(?i:\bbearer)\s+(?P<value>[\w.~+/-]{16,}=*)"), None),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", re.I),
     _iban_ok),
    ("card", re.compile(r"\b\d(?:[ -]?\d){12,18}\b"), _card_shaped),
    ("ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), _ssn_ok),
    # IPv4, and IPv6 in full or compressed ("2001:db8::1"); a time ("10:30:45") is no address.
    ("ip", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b|(?<![\w:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}"
                      r"(?![\w:])", re.I), _ip_ok),
    # Grouped ("+49 (0)30 1234 5678", "(202) 555-0147"), or international without separators.
    ("phone", re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(0\)[ .-]?)?\(?\d{2,5}\)?"
                         r"(?:[ .-]\d{2,8}){1,4}\b|(?<![\w+])\+\d{8,15}\b"), _phone_ok),
    # Bare or local numbers where a word before them says what they are ("call 2025550147").
    ("phone", re.compile(r"(?i:\b(?:phone|mobile|cell|tel|telephone|call|text|sms|whatsapp|fax)\b)"
                         r"[^\d\n]{0,20}?(?<![\w+])(?P<value>\d(?:[ .-]?\d){6,14})\b"),
     _named_phone_ok),
)  # fmt: skip


def find_pii(text: str) -> list[PiiMatch]:
    """Every validated PII value in text, left to right, without overlaps (a pattern with a
    `value` group matches more than the value, e.g. the word that says what it is)."""
    matches: list[PiiMatch] = []  # kept sorted by start; they never overlap
    for kind, pattern, valid in _DETECTORS:
        part = "value" if "value" in pattern.groupindex else 0
        for m in pattern.finditer(text):
            start, end = m.span(part)
            if valid is not None and not valid(m.group(part)):
                continue
            at = bisect.bisect_left(matches, start, key=lambda p: p.start)
            if (at > 0 and matches[at - 1].end > start) or (
                at < len(matches) and matches[at].start < end
            ):
                continue  # an earlier kind's value overlaps it
            matches.insert(at, PiiMatch(kind, start, end, m.group(part)))
    return matches


def redact(text: str, matches: list[PiiMatch] | None = None) -> str:
    """Text with each PII value replaced by `[KIND]`; pass `matches` if find_pii already ran."""
    pieces, done = [], 0
    for match in find_pii(text) if matches is None else matches:
        pieces += [text[done : match.start], f"[{match.kind.upper()}]"]
        done = match.end
    return "".join(pieces) + text[done:]


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
