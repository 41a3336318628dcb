"""Replay (backtest) a rollout policy over recorded per-request observations: the same judge
and step logic as a live canary, one analysis window at a time, streaming the recording."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from raygate.canary import steps
from raygate.canary.judge import JudgeState, JudgeVerdict, judge, observe
from raygate.canary.observations import Observation, WindowPair
from raygate.canary.policy import RolloutPolicy

DECISIONS = {
    steps.Action.PROMOTE: "promote",
    steps.Action.AWAIT_APPROVAL: "promote",
    steps.Action.ROLLBACK: "rollback",
    steps.Action.HALT: "inconclusive",
}


@dataclass(frozen=True)
class StepRecord:
    """When a step began in the recording, and the canary requests seen by then."""

    step: int
    weight_percent: float
    started_at_ts: float
    canary_requests_at_start: int


@dataclass
class ReplayResult:
    """The policy's decision on the recording, when it was taken, and why."""

    decision: str = "inconclusive"
    reason: str = "the recording ended before the evidence decided"
    decided_at_request: int | None = None
    decided_at_ts: float | None = None
    started_at_ts: float | None = None
    verdict: JudgeVerdict | None = None
    steps: list[StepRecord] = field(default_factory=list)
    observations: int = 0
    looks: int = 0
    needs_approval: bool = False

    def to_dict(self) -> dict[str, Any]:
        verdict = self.verdict
        return {
            "decision": self.decision,
            "decided_at_request": self.decided_at_request,
            "decided_at_ts": self.decided_at_ts,
            "decided_after_s": (
                None if self.decided_at_ts is None else self.decided_at_ts - self.started_at_ts
            ),
            "reason": self.reason,
            "needs_approval": self.needs_approval,
            "reasons": [m.to_dict() for m in verdict.metrics] if verdict else [],
            "canary_requests": verdict.canary_requests if verdict else 0,
            "champion_requests": verdict.champion_requests if verdict else 0,
            "observations": self.observations,
            "looks": self.looks,
            "steps": [s.__dict__ for s in self.steps],
        }


def replay(observations: Iterator[Observation], policy: RolloutPolicy) -> ReplayResult:
    """Run the judge and the step logic over a recording. The recorded traffic split is what
    it is (the policy's weights are not applied); its durations and sample minimums are."""
    metrics = policy.judged_metrics()
    interval = policy.analysis_interval_s
    result = ReplayResult()
    state, rollout = JudgeState(), None
    window, window_end, verdict = WindowPair(), 0.0, None

    def look(now: float) -> bool:
        """Judge the window that ended at `now`; True once the rollout has decided."""
        nonlocal state, rollout, window, verdict
        if verdict is None or window.canary.requests or window.champion.requests:
            state = observe(state, window, metrics)
            verdict = judge(state, metrics)
        window = WindowPair()
        result.looks += 1
        step_before = rollout.step
        rollout, decision = steps.next_decision(policy, rollout, verdict, now)
        if rollout.step != step_before:
            result.steps.append(_step_record(policy, rollout, now))
        result.verdict = verdict
        if decision.action not in DECISIONS:
            return False
        result.decision = DECISIONS[decision.action]
        result.needs_approval = decision.action is steps.Action.AWAIT_APPROVAL
        result.reason = decision.reason
        result.decided_at_ts = now
        result.decided_at_request = verdict.canary_requests
        return True

    last_ts = 0.0
    for obs in observations:
        result.observations += 1
        last_ts = obs.ts
        if rollout is None:
            rollout = steps.start(obs.ts)
            result.started_at_ts = obs.ts
            window_end = obs.ts + interval
            result.steps.append(_step_record(policy, rollout, obs.ts))
        while obs.ts >= window_end:
            if look(window_end):
                return result
            window_end += interval
        window.add(obs)
    if rollout is not None and (window.canary.requests or window.champion.requests):
        look(last_ts)  # the recording's last, partial window
    return result


def _step_record(policy: RolloutPolicy, rollout: steps.RolloutState, now: float) -> StepRecord:
    return StepRecord(
        step=rollout.step + 1,
        weight_percent=policy.steps[rollout.step].weight_percent,
        started_at_ts=now,
        canary_requests_at_start=rollout.step_start_canary_requests,
    )
