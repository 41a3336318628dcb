"""Rollout policy behind `policies/rollout.yaml`: weight steps, the metrics judged with the
effect that matters for each, error budgets, limits and the overall timeout."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from raygate.errors import ConfigError
from raygate.policy_files import policy_file
from raygate.schemas import StrictModel, load_yaml_model

MetricKind = Literal["count", "distribution"]


class CountMetric(StrictModel):
    """A rate of events per judged request (errors, safety blocks, refusals)."""

    max_increase: float = Field(
        gt=0,
        le=100,
        description="The relative rise of the canary's rate over the champion's that matters: "
        "0.5 means ×1.5. Below it the canary passes; a rise with confidence fails it.",
    )
    negligible_rate: float | None = Field(
        0.002,
        gt=0,
        lt=1,
        description="A canary whose own rate is shown to be below this passes whatever its "
        "champion's rate: a ratio says nothing when neither variant has events (a champion "
        "that never fails). null: only the ratio decides.",
    )


class DistributionMetric(StrictModel):
    """A per-request quantity compared at one quantile (latency, cost, tokens)."""

    quantile: float = Field(0.95, gt=0, lt=1, description="The quantile compared, e.g. 0.95.")
    max_increase: float = Field(
        gt=0,
        le=100,
        description="The relative rise of the canary's quantile over the champion's that "
        "matters: 0.2 means +20 %.",
    )


class MetricsPolicy(StrictModel):
    """The metrics judged, canary against champion over the same time; null switches one off."""

    error_rate: CountMetric | None = Field(
        CountMetric(max_increase=0.5), description="Failed requests (5xx, 429, errors, deadlines)."
    )
    safety_block_rate: CountMetric | None = Field(
        CountMetric(max_increase=1.0),
        description="Requests on which a safety rule acted (input redaction alone excluded).",
    )
    refusal_rate: CountMetric | None = Field(
        CountMetric(max_increase=0.5), description="Requests the model declined to answer."
    )
    latency_ms: DistributionMetric | None = Field(
        DistributionMetric(quantile=0.95, max_increase=0.2),
        description="End-to-end latency of requests that did not fail.",
    )
    cost_usd: DistributionMetric | None = Field(
        DistributionMetric(quantile=0.5, max_increase=0.2),
        description="Cost per request; requests without a price count as missing, never 0.",
    )
    tokens_out: DistributionMetric | None = Field(
        None, description="Output tokens per request (off by default: cost covers it)."
    )


METRIC_KINDS: dict[str, MetricKind] = {
    "error_rate": "count",
    "safety_block_rate": "count",
    "refusal_rate": "count",
    "latency_ms": "distribution",
    "cost_usd": "distribution",
    "tokens_out": "distribution",
}


class Step(StrictModel):
    """One weight step: the canary gets this share until the step's minimums are met."""

    weight_percent: float = Field(gt=0, le=100, description="Canary share of traffic, in %.")
    min_duration_s: float = Field(ge=0, description="Shortest time at this weight, in seconds.")
    min_canary_requests: int = Field(
        0, ge=0, description="Fewest judged canary requests at this weight before it may end."
    )
    advance_when: Literal["no_fail", "pass"] = Field(
        "no_fail",
        description="Move to the next step when no metric failed (no_fail) or only when every "
        "metric passed (pass). Promotion after the last step always needs every metric to pass.",
    )

    @field_validator("weight_percent", mode="before")
    @classmethod
    def _percent_sign(cls, value: object) -> object:
        """`5%` reads as 5, as the command line's shares do."""
        return value.strip().removesuffix("%").strip() if isinstance(value, str) else value


class Limits(StrictModel):
    """How many bad looks are tolerated before the rollout stops (Argo Rollouts' limits)."""

    failure_limit: int = Field(
        0, ge=0, description="FAIL verdicts tolerated; one more rolls back (0: the first does)."
    )
    inconclusive_limit: int = Field(
        20,
        ge=0,
        description="Looks past a step's minimums that stay INCONCLUSIVE (extending the step); "
        "one more ends the rollout inconclusive, for a person to decide.",
    )
    consecutive_error_limit: int = Field(
        4, ge=0, description="Measurement errors in a row tolerated; one more rolls back."
    )


class RolloutPolicy(StrictModel):
    """How a canary is ramped, judged and decided."""

    analysis_interval_s: float = Field(
        30, gt=0, description="Seconds between looks; the judge stays valid however often."
    )
    max_false_rollback: float = Field(
        0.05,
        gt=0,
        lt=0.5,
        description="Chance of rolling back a canary no worse than its champion, across all "
        "metrics and all looks.",
    )
    max_false_promotion: float = Field(
        0.05,
        gt=0,
        lt=0.5,
        description="Chance of promoting a canary whose regression on some metric is at least "
        "its max_increase, across all metrics and looks.",
    )
    steps: list[Step] = Field(min_length=1, description="Weight steps, in increasing weight.")
    metrics: MetricsPolicy = Field(default_factory=MetricsPolicy)
    limits: Limits = Field(default_factory=Limits)
    timeout_s: float = Field(
        7200, gt=0, description="The whole rollout's longest run; then it ends inconclusive."
    )
    manual_approval: bool = Field(False, description="Wait for a person before promoting.")

    @model_validator(mode="after")
    def _check(self) -> RolloutPolicy:
        weights = [step.weight_percent for step in self.steps]
        if any(b <= a for a, b in itertools.pairwise(weights)):
            raise ValueError(f"steps: weights must increase step by step (got {weights})")
        if not self.judged_metrics():
            raise ValueError("metrics: every metric is off; switch at least one on")
        return self

    def judged_metrics(self) -> list[JudgedMetric]:
        """The metrics switched on, each with its share of the error budgets (Bonferroni)."""
        on = [(name, getattr(self.metrics, name)) for name in METRIC_KINDS]
        on = [(name, spec) for name, spec in on if spec is not None]
        count = len(on)
        return [
            JudgedMetric(
                name=name,
                kind=METRIC_KINDS[name],
                max_increase=spec.max_increase,
                quantile=getattr(spec, "quantile", None),
                negligible_rate=getattr(spec, "negligible_rate", None),
                alpha=self.max_false_rollback / count if count else 0.0,
                beta=self.max_false_promotion / count if count else 0.0,
            )
            for name, spec in on
        ]


@dataclass(frozen=True)
class JudgedMetric:
    """One metric as the judge sees it: kind, effect that matters, and its error budgets."""

    name: str
    kind: MetricKind
    max_increase: float
    quantile: float | None
    negligible_rate: float | None
    alpha: float  # chance of a false FAIL of this metric
    beta: float  # chance of a false PASS of this metric


def load_rollout_policy(path: str | Path | None = None) -> RolloutPolicy:
    """Read and validate a rollout policy; errors name the file, the line and the field.
    None: ./policies/rollout.yaml, else the built-in one."""
    return load_yaml_model(policy_file(path, "rollout"), RolloutPolicy, ConfigError,
                           "pass a rollout policy such as policies/rollout.yaml")  # fmt: skip
