"""Per-request observations of a canary, their outcome classes, and per-variant window
aggregates (counts and sketches that merge by adding)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from raygate.constants import FAILED_FINISH_REASONS
from raygate.sketch import LogHistogram

Variant = Literal["champion", "canary"]

REFUSAL_FINISH_REASONS = frozenset({"refused", "content_filter"})
# A safety flag that only records input redaction changes nothing the user sees.
INFORMATIONAL_FLAG_PREFIXES = ("pii_redacted_input",)


class Observation(BaseModel):
    """One request as serving records it (`raygate canary replay` reads these fields; records
    may carry more, which are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ts: float = Field(description="When the request finished, in seconds (ascending).")
    variant: Variant = Field(description="Which variant answered: champion or canary.")
    status: int = Field(ge=100, le=599, description="The HTTP status of the answer.")
    finish_reason: str = Field(description="How the request ended (answer, refused, error, …).")
    latency_ms: float | None = Field(None, ge=0, description="End-to-end latency in ms.")
    tokens_in: int | None = Field(None, ge=0, description="Prompt tokens; null if unknown.")
    tokens_out: int | None = Field(None, ge=0, description="Output tokens; null if unknown.")
    cost_usd: float | None = Field(None, ge=0, description="Cost in USD; null if unpriced.")
    safety_flags: list[str] = Field(default_factory=list, description="Safety decisions taken.")

    @property
    def caller_error(self) -> bool:
        """A 4xx other than 429: the caller's mistake, which says nothing about the variant."""
        return 400 <= self.status < 500 and self.status != 429

    @property
    def failed(self) -> bool:
        return (
            self.status >= 500 or self.status == 429 or self.finish_reason in FAILED_FINISH_REASONS
        )


@dataclass
class VariantWindow:
    """What one variant did in one analysis window. `requests` counts judged requests (caller
    errors excluded); latency is of requests that did not fail; cost and tokens of those that
    report them (the others are counted as missing, never as 0)."""

    requests: int = 0
    errors: int = 0
    safety_blocks: int = 0
    refusals: int = 0
    caller_errors: int = 0
    latency_ms: LogHistogram = field(default_factory=LogHistogram)
    cost_usd: LogHistogram = field(default_factory=LogHistogram)
    cost_missing: int = 0
    tokens_out: LogHistogram = field(default_factory=LogHistogram)
    tokens_missing: int = 0

    def add(self, obs: Observation) -> None:
        if obs.caller_error:
            self.caller_errors += 1
            return
        self.requests += 1
        if obs.failed:
            self.errors += 1
        else:
            if obs.latency_ms is not None:
                self.latency_ms.add(obs.latency_ms)
            self.refusals += obs.finish_reason in REFUSAL_FINISH_REASONS
            self.safety_blocks += any(
                not flag.startswith(INFORMATIONAL_FLAG_PREFIXES) for flag in obs.safety_flags
            )
        _add_or_miss(self, "cost_usd", "cost_missing", obs.cost_usd)
        _add_or_miss(self, "tokens_out", "tokens_missing", obs.tokens_out)

    def merge(self, other: VariantWindow) -> VariantWindow:
        return VariantWindow(
            requests=self.requests + other.requests,
            errors=self.errors + other.errors,
            safety_blocks=self.safety_blocks + other.safety_blocks,
            refusals=self.refusals + other.refusals,
            caller_errors=self.caller_errors + other.caller_errors,
            latency_ms=self.latency_ms.merge(other.latency_ms),
            cost_usd=self.cost_usd.merge(other.cost_usd),
            cost_missing=self.cost_missing + other.cost_missing,
            tokens_out=self.tokens_out.merge(other.tokens_out),
            tokens_missing=self.tokens_missing + other.tokens_missing,
        )


def _add_or_miss(window: VariantWindow, sketch: str, missing: str, value: float | None) -> None:
    if value is None:
        setattr(window, missing, getattr(window, missing) + 1)
    else:
        getattr(window, sketch).add(value)


@dataclass
class WindowPair:
    """Both variants over the same window of time: what the judge compares."""

    canary: VariantWindow = field(default_factory=VariantWindow)
    champion: VariantWindow = field(default_factory=VariantWindow)

    def add(self, obs: Observation) -> None:
        (self.canary if obs.variant == "canary" else self.champion).add(obs)
