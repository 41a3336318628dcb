"""Safety around the generator: refusal rules, PII redaction in and out, per-user rate limits.

Every decision is returned as a flag for the request's `safety_flags`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from raygate.telemetry.pii import find_pii, redact


@dataclass(frozen=True)
class RefusalRule:
    """A category of request the agent must decline, recognized by a pattern."""

    category: str
    pattern: re.Pattern[str]
    reason: str


def _rule(category: str, reason: str, *patterns: str) -> RefusalRule:
    return RefusalRule(category, re.compile("|".join(patterns), re.IGNORECASE), reason)


REFUSAL_RULES = (
    _rule("weapons", "requests to build or improvise weapons are declined",
          r"\b(?:into|as|make|build)\b.{0,30}\bweapons?\b", r"\b(?:bomb|explosive|firearm)s?\b"),
    _rule("cyber_abuse", "hacking, malware and bypassing security are declined",
          r"\bhack(?:ing)?\s+(?:into|someone|my neighbou?r)",
          r"\b(?:malware|ransomware|keylogger|botnet)\b",
          r"\bbypass\b.{0,40}\b(?:signature|authenticat\w*|password|licen[cs]e|drm)\b"),
    _rule("fraud", "forging documents or claiming refunds not owed is declined",
          r"\bfake\s+(?:receipt|invoice|warranty|certificate|review)s?\b",
          r"\b(?:forge|counterfeit)\b",
          r"\brefund\b.{0,30}\bnot\s+owed\b"),
    _rule("phishing", "impersonation and phishing are declined",
          r"\bphishing\b", r"\bpretend(?:s|ing)?\s+to\s+be\b", r"\bimpersonat\w*"),
    _rule("privacy", "personal data about other people is not disclosed",
          r"\bhome\s+address\b", r"\bdox+(?:ing)?\b",
          r"\b(?:phone\s+number|address|email)\b.{0,30}\b(?:of|for)\s+(?:an?|the|your)\s+"
          r"(?:\w+\s+){0,3}employees?"),
    _rule("dangerous_modification", "disabling a product's safety features is declined",
          r"\b(?:disable|bypass|override|defeat|tamper\s+with)\b.{0,40}\b(?:overheat\w*|safety|"
          r"protection|cut-?off|thermal|fuse)\b"),
)  # fmt: skip


@dataclass(frozen=True)
class InputVerdict:
    """What the input guard decided: the text the generator may see, and why."""

    text: str
    refused_category: str | None
    reason: str | None
    flags: tuple[str, ...]


def screen_input(query: str, refuse: bool = True, redact_pii: bool = True) -> InputVerdict:
    """Refuse disallowed requests; redact PII so that no generator ever sees it."""
    flags: list[str] = []
    text = query
    found = find_pii(query) if redact_pii else []
    if found:
        text = redact(query, found)
        flags.append("pii_redacted_input:" + ",".join(sorted({m.kind for m in found})))
    if refuse:
        for rule in REFUSAL_RULES:
            if rule.pattern.search(text):
                flags.append(f"refused:{rule.category}")
                return InputVerdict(text, rule.category, rule.reason, tuple(flags))
    return InputVerdict(text, None, None, tuple(flags))


def screen_output(answer: str) -> tuple[str, tuple[str, ...]]:
    """The answer with any PII redacted, and the flag recording it."""
    found = find_pii(answer)
    if not found:
        return answer, ()
    return redact(answer, found), (
        "pii_redacted_output:" + ",".join(sorted({m.kind for m in found})),
    )


@dataclass
class TokenBucket:
    """Classic token bucket: `rate_per_s` tokens refill per second up to `burst`."""

    rate_per_s: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """0.0 when a request may pass, else the seconds until one token is back."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate_per_s)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate_per_s


@dataclass
class RateLimiter:
    """Per-user token buckets; anonymous requests share one bucket. Thread-safe."""

    requests_per_minute: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after_s(self, user_id: str | None) -> float:
        """0.0 when the user's request may pass, else how long to wait."""
        now = self.clock()
        key = user_id or "anonymous"
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(self.requests_per_minute / 60, self.burst, self.burst, now)
                self._buckets[key] = bucket
            return bucket.take(now)
