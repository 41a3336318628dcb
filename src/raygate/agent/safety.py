"""Safety around the generator: refusal rules, PII redaction in and out, per-user rate limits.

Every decision is returned as a flag for the request's `safety_flags`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from raygate.agent.refusal_rules import RULES
from raygate.constants import REFUSAL_ANSWER, SELF_HARM_ANSWER
from raygate.telemetry.pii import find_pii, redact


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
        for rule in RULES:
            if rule.matches(text):
                flags.append(f"refused:{rule.category}")
                return InputVerdict(text, rule.category, rule.reason, tuple(flags))
    return InputVerdict(text, None, None, tuple(flags))


def refusal_answer(category: str) -> str:
    """What the user reads when a request is declined: care and a pointer to help for
    self-harm, a plain refusal otherwise."""
    return SELF_HARM_ANSWER if category == "self_harm" else REFUSAL_ANSWER


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
