"""Request limits shared by the agent (per user) and the router (per API token): one config
model and one thread-safe token bucket per key."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import Field

from raygate.schemas import StrictModel


class RateLimit(StrictModel):
    """A token bucket per key (a user for the agent, an API token for the router)."""

    requests_per_minute: float = Field(gt=0, description="Sustained requests per key per minute.")
    burst: int = Field(ge=1, description="Requests a key may send at once.")


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
    """Token buckets per key; requests without a key share one bucket. Thread-safe."""

    requests_per_minute: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_config(cls, config: RateLimit) -> RateLimiter:
        return cls(config.requests_per_minute, config.burst)

    def retry_after_s(self, key: str | None) -> float:
        """0.0 when the key's request may pass, else how long to wait."""
        now = self.clock()
        key = key or "anonymous"
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(self.requests_per_minute / 60, self.burst, self.burst, now)
                self._buckets[key] = bucket
            return bucket.take(now)
