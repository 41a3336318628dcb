"""Pre-flight plan: how many canary requests, and minutes, a policy needs to decide at a given
traffic and canary share, found by running the judge itself on simulated traffic with the
baseline the user gives (power analysis by simulation), plus warnings for steps too short."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from raygate.canary.judge import JudgeState, Verdict, judge, observe
from raygate.canary.policy import JudgedMetric, RolloutPolicy
from raygate.canary.simulate import Traffic, window_pair
from raygate.schemas import StrictModel

LOOK_GROWTH = 1.05  # looks at least 5 % of data apart: decisions land within 5 % of the truth
_DEFAULT = Traffic()


class PlanRequest(StrictModel):
    """What the user expects of live traffic: its rate, the canary's share, and the champion's
    baseline rates and distributions."""

    rps: float = Field(gt=0, description="Requests per second over both variants.")
    share_percent: float = Field(gt=0, le=100, description="The canary's share, in %.")
    error_rate: float = Field(_DEFAULT.error_rate, ge=0, lt=1)
    safety_block_rate: float = Field(_DEFAULT.safety_block_rate, ge=0, lt=1)
    refusal_rate: float = Field(_DEFAULT.refusal_rate, ge=0, lt=1)
    latency_ms_p50: float = Field(_DEFAULT.latency_ms_p50, gt=0)
    latency_ms_p95: float = Field(_DEFAULT.latency_ms_p95, gt=0)
    cost_usd_p50: float = Field(_DEFAULT.cost_usd_p50, gt=0)
    cost_usd_p95: float = Field(_DEFAULT.cost_usd_p95, gt=0)
    tokens_out_p50: float = Field(_DEFAULT.tokens_out_p50, gt=0)
    tokens_out_p95: float = Field(_DEFAULT.tokens_out_p95, gt=0)
    simulations: int = Field(60, ge=10, le=5000, description="Simulated canaries per scenario.")
    seed: int = 0

    @model_validator(mode="after")
    def _p95_above_p50(self) -> PlanRequest:
        for name in ("latency_ms", "cost_usd", "tokens_out"):
            if getattr(self, f"{name}_p95") <= getattr(self, f"{name}_p50"):
                raise ValueError(f"{name}: the p95 must be above the p50")
        return self

    def baseline(self) -> Traffic:
        return Traffic(**{f: getattr(self, f) for f in Traffic.__dataclass_fields__})


@dataclass(frozen=True)
class Outcome:
    """Canary requests to a decision over the simulated canaries of one scenario."""

    median_requests: float | None  # None: fewer than half decided within the cap
    p90_requests: float | None
    decided_share: float  # share of simulations that reached the expected verdict
    median_minutes: float | None

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class MetricPlan:
    """One metric: requests to FAIL a canary worse by exactly its max_increase."""

    metric: str
    max_increase: float
    to_fail_at_effect: Outcome


@dataclass
class Plan:
    """The plan at one traffic level and canary share."""

    rps: float
    share_percent: float
    simulations: int
    cap_canary_requests: int
    to_promote: Outcome  # all metrics PASS with no difference (A/A)
    metrics: list[MetricPlan]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rps": self.rps,
            "share_percent": self.share_percent,
            "canary_rps": self.rps * self.share_percent / 100,
            "simulations": self.simulations,
            "cap_canary_requests": self.cap_canary_requests,
            "to_promote_if_no_difference": self.to_promote.to_dict(),
            "metrics": [
                {
                    "metric": m.metric,
                    "max_increase": m.max_increase,
                    "to_fail_at_max_increase": m.to_fail_at_effect.to_dict(),
                }
                for m in self.metrics
            ],
            "warnings": self.warnings,
        }


def make_plan(
    policy: RolloutPolicy,
    rps: float,
    share_percent: float,
    baseline: Traffic,
    simulations: int = 60,
    seed: int = 0,
    progress: Callable[[], None] | None = None,
) -> Plan:
    """Simulate `simulations` canaries per scenario: A/A to promotion, and each metric
    regressed by its max_increase to FAIL."""
    share = share_percent / 100
    canary_rps = rps * share
    per_look = max(1.0, canary_rps * policy.analysis_interval_s)
    cap = int(max(2_000, 2 * canary_rps * policy.timeout_s))
    metrics = policy.judged_metrics()
    rng = np.random.default_rng(seed)

    def outcome(canary: Traffic, judged: list[JudgedMetric], wanted: Verdict) -> Outcome:
        requests = []
        for _ in range(simulations):
            verdict, seen = _run(judged, baseline, canary, share, per_look, cap, rng)
            requests.append(seen if verdict is wanted else math.inf)
            if progress:
                progress()
        return _summarize(requests, canary_rps)

    to_promote = outcome(baseline, metrics, Verdict.PASS)
    plans = [
        MetricPlan(
            m.name,
            m.max_increase,
            outcome(baseline.regressed(m.name, 1 + m.max_increase), [m], Verdict.FAIL),
        )
        for m in metrics
    ]
    plan = Plan(rps, share_percent, simulations, cap, to_promote, plans)
    plan.warnings = _warnings(policy, plan)
    return plan


def scenario_count(policy: RolloutPolicy) -> int:
    """How many scenarios make_plan simulates (for a progress bar)."""
    return 1 + len(policy.judged_metrics())


def _run(
    metrics: list[JudgedMetric],
    champion: Traffic,
    canary: Traffic,
    share: float,
    per_look: float,
    cap: int,
    rng: np.random.Generator,
) -> tuple[Verdict, int]:
    state, target = JudgeState(), per_look
    while True:
        seen = state.totals.canary.requests
        total = max(1, round((target - seen) / share))
        state = observe(state, window_pair(champion, canary, total, share, rng), metrics)
        verdict = judge(state, metrics)
        seen = state.totals.canary.requests
        if verdict.verdict is not Verdict.INCONCLUSIVE or seen >= cap:
            return verdict.verdict, seen
        target = max(target + per_look, seen * LOOK_GROWTH)


def _summarize(requests: list[float], canary_rps: float) -> Outcome:
    values = np.asarray(requests, float)
    decided = float(np.isfinite(values).mean())
    median = float(np.median(values)) if decided > 0.5 else None
    p90 = float(np.percentile(values, 90)) if decided > 0.9 else None
    minutes = median / canary_rps / 60 if median is not None and canary_rps > 0 else None
    return Outcome(median, p90, decided, minutes)


def _warnings(policy: RolloutPolicy, plan: Plan) -> list[str]:
    """Steps too short to catch a regression, and a last step or timeout too short to pass."""
    warnings = []
    fastest_fail = min(
        (
            m.to_fail_at_effect.median_requests
            for m in plan.metrics
            if m.to_fail_at_effect.median_requests
        ),
        default=None,
    )
    canary_so_far = 0.0
    for number, step in enumerate(policy.steps, start=1):
        rate = plan.rps * step.weight_percent / 100
        step_requests = rate * step.min_duration_s
        if fastest_fail and canary_so_far + step_requests < fastest_fail:
            warnings.append(
                f"step {number} ({step.weight_percent:g} % for {step.min_duration_s:g} s) ends "
                f"with ~{canary_so_far + step_requests:.0f} canary requests in all, fewer than "
                f"the ~{fastest_fail:.0f} the fastest metric needs to fail a regression of its "
                "max_increase: it only catches much larger ones"
            )
        canary_so_far += step_requests
    last = policy.steps[-1]
    extension = policy.limits.inconclusive_limit * policy.analysis_interval_s
    available = canary_so_far + plan.rps * last.weight_percent / 100 * extension
    needed = plan.to_promote.median_requests
    if needed is None:
        warnings.append(
            f"with no difference at all, fewer than half the simulated canaries passed every "
            f"metric within {plan.cap_canary_requests} canary requests: the rollout would end "
            "inconclusive; widen max_increase, raise the traffic or the share"
        )
    elif available < needed:
        warnings.append(
            f"the last step ends after ~{available:.0f} canary requests (its minimum plus "
            f"{policy.limits.inconclusive_limit} extensions) at {plan.rps:g} req/s, but passing "
            f"every metric takes ~{needed:.0f}: the rollout will end inconclusive; lengthen the "
            "last step, raise its weight or inconclusive_limit, or widen max_increase"
        )
    if needed is not None and plan.rps * plan.share_percent / 100 * policy.timeout_s < needed:
        warnings.append(
            f"at {plan.share_percent:g} % the timeout ({policy.timeout_s:g} s) ends before the "
            f"~{needed:.0f} canary requests a promotion needs"
        )
    return warnings
