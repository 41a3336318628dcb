"""The rollout's step logic: given the judge's verdict (or a measurement error) and the clock,
what happens next. Pure: the state and the time come in, a new state and one action go out;
nothing here sleeps or touches a cluster."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from raygate.canary.judge import MISSING_FIELDS, JudgeVerdict, MetricVerdict, Verdict
from raygate.canary.policy import RolloutPolicy


class Action(StrEnum):
    WAIT = "wait"  # look again after the analysis interval
    SET_WEIGHT = "set_weight"  # move to the step in `state.step`
    AWAIT_APPROVAL = "await_approval"  # every metric passed; a person must approve
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    HALT = "halt"  # inconclusive: stop the ramp and leave the decision to a person


FINAL_ACTIONS = frozenset({Action.PROMOTE, Action.ROLLBACK, Action.HALT})
NO_TRAFFIC = "no requests have reached either variant"
UNMEASURED_AFTER = 50  # requests of each variant without a value before a metric is unmeasured


@dataclass(frozen=True)
class MeasurementError:
    """The metric provider failed at a look: recorded, never mistaken for a verdict."""

    message: str


@dataclass(frozen=True)
class RolloutState:
    """Where a rollout stands between looks."""

    started_at: float
    step: int = 0
    step_started_at: float = 0.0
    step_start_canary_requests: int = 0
    failures: int = 0
    inconclusives: int = 0
    consecutive_errors: int = 0
    approved: bool = False


@dataclass(frozen=True)
class Decision:
    """What to do now, why, and when to look next (None once the rollout has ended)."""

    action: Action
    reason: str
    next_look_at: float | None


def start(now: float) -> RolloutState:
    """A rollout at its first step, starting now."""
    return RolloutState(started_at=now, step_started_at=now)


def next_decision(
    policy: RolloutPolicy,
    state: RolloutState,
    verdict: JudgeVerdict | MeasurementError,
    now: float,
) -> tuple[RolloutState, Decision]:
    """One look: the new state and what to do. A FAIL can roll back at any look (the judge's
    bounds hold at every look); a step ends only after its minimum time and canary requests;
    promotion needs every metric to PASS."""
    look = now + policy.analysis_interval_s
    limits = policy.limits
    if isinstance(verdict, MeasurementError):
        state = replace(state, consecutive_errors=state.consecutive_errors + 1)
        if state.consecutive_errors > limits.consecutive_error_limit:
            return state, Decision(
                Action.ROLLBACK,
                f"{state.consecutive_errors} measurement errors in a row (limit "
                f"{limits.consecutive_error_limit}); last: {verdict.message}",
                None,
            )
        return state, Decision(Action.WAIT, f"measurement error: {verdict.message}", look)
    state = replace(state, consecutive_errors=0)
    if verdict.verdict is Verdict.FAIL:
        state = replace(state, failures=state.failures + 1)
        if state.failures > limits.failure_limit:
            failed = "; ".join(_evidence(m) for m in verdict.metrics if m.verdict is Verdict.FAIL)
            return state, Decision(Action.ROLLBACK, f"regression: {failed}", None)
    unmeasured = _unmeasured(verdict)
    if unmeasured:
        return state, Decision(
            Action.HALT,
            f"{', '.join(unmeasured)}: neither variant reports it ({verdict.canary_requests} "
            f"canary and {verdict.champion_requests} champion requests), so it can never pass; "
            "switch it off in the rollout policy (metrics.NAME: null) or have the model report it",
            None,
        )
    if now - state.started_at >= policy.timeout_s:
        return state, Decision(Action.HALT, _timed_out(policy, state, verdict), None)
    step = policy.steps[state.step]
    step_requests = verdict.canary_requests - state.step_start_canary_requests
    step_s = now - state.step_started_at
    if step_s < step.min_duration_s or step_requests < step.min_canary_requests:
        if verdict.canary_requests == verdict.champion_requests == 0:
            return state, Decision(Action.WAIT, f"step {state.step + 1}: {NO_TRAFFIC}", look)
        return state, Decision(
            Action.WAIT,
            f"step {state.step + 1}: collecting data ({step_requests} of "
            f"{step.min_canary_requests} canary requests, {step_s:.0f} of "
            f"{step.min_duration_s:g} s)",
            look,
        )
    last = state.step == len(policy.steps) - 1
    needs_pass = last or step.advance_when == "pass"
    if verdict.verdict is Verdict.PASS or (not needs_pass and verdict.verdict is not Verdict.FAIL):
        if not last and (unreported := _unreported(verdict)):
            # a metric may turn out unmeasured (a halt): more traffic to the canary can wait
            return state, Decision(
                Action.WAIT,
                f"step {state.step + 1}: no value of {', '.join(unreported)} from either variant "
                f"yet; the canary keeps {step.weight_percent:g} % until one reports it (or "
                f"{UNMEASURED_AFTER} requests of each show neither does)",
                look,
            )
        if not last:
            nxt = state.step + 1
            state = replace(
                state,
                step=nxt,
                step_started_at=now,
                step_start_canary_requests=verdict.canary_requests,
                inconclusives=0,
            )
            weight = policy.steps[nxt].weight_percent
            reason = f"step {nxt + 1}: canary at {weight:g} %"
            return state, Decision(Action.SET_WEIGHT, reason, look)
        if policy.manual_approval and not state.approved:
            return state, Decision(Action.AWAIT_APPROVAL, "every metric passed", look)
        return state, Decision(Action.PROMOTE, "every metric passed", None)
    if verdict.verdict is Verdict.FAIL:  # tolerated by failure_limit: look again
        return state, Decision(Action.WAIT, "a metric failed (within the failure limit)", look)
    state = replace(state, inconclusives=state.inconclusives + 1)
    if state.inconclusives > limits.inconclusive_limit:
        pending = ", ".join(m.metric for m in verdict.metrics if m.verdict is Verdict.INCONCLUSIVE)
        return state, Decision(
            Action.HALT,
            f"still inconclusive after {state.inconclusives} extra looks: {pending}",
            None,
        )
    return state, Decision(Action.WAIT, f"step {state.step + 1}: inconclusive, extending", look)


def _timed_out(policy: RolloutPolicy, state: RolloutState, verdict: JudgeVerdict) -> str:
    """Why the rollout ran out of time, with the traffic it saw: a release nobody sent
    requests to says so rather than looking undecided."""
    said = f"timed out after {policy.timeout_s:g} s without a decision"
    if verdict.canary_requests == verdict.champion_requests == 0:
        return (
            f"{said}: {NO_TRAFFIC}; send the app traffic (your clients, or `raygate loadtest`) "
            "while a release runs"
        )
    return (
        f"{said} at step {state.step + 1} of {len(policy.steps)} ({verdict.canary_requests} "
        f"canary and {verdict.champion_requests} champion requests); `raygate canary plan` "
        "says how long the policy needs at your traffic"
    )


def _unmeasured(verdict: JudgeVerdict) -> list[str]:
    """Metrics with no value from either variant after UNMEASURED_AFTER requests of each (a
    model that reports no cost or tokens): missing is never 0, and waiting cannot help."""
    if min(verdict.canary_requests, verdict.champion_requests) < UNMEASURED_AFTER:
        return []
    return _unreported(verdict)


def _unreported(verdict: JudgeVerdict) -> list[str]:
    """Metrics a model may not report (cost, tokens) that neither variant has reported yet."""
    return [
        m.metric
        for m in verdict.metrics
        if m.metric in MISSING_FIELDS and m.canary_n == 0 and m.champion_n == 0
    ]


def _evidence(metric: MetricVerdict) -> str:
    """`latency_ms p90 canary 61.2 (n=310) vs champion 40.1 (n=900)`: what failed, measured."""
    return f"{metric.metric} {metric.detail.split(';')[0]}"
