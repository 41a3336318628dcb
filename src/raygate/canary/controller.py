"""The canary controller: every analysis interval it reads both variants' traffic from a
metric provider, asks the judge and the step logic what to do, and has the executor do it,
persisting the release before and after each action so that a restarted controller resumes
where it stopped (an action cut short is run again; actions are idempotent)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from raygate.canary import steps
from raygate.canary.actions import Actions
from raygate.canary.claim import ControllerClaim
from raygate.canary.judge import JudgeState, judge, observe
from raygate.canary.observations import WindowPair
from raygate.canary.policy import RolloutPolicy
from raygate.canary.provider import MetricsProvider
from raygate.canary.release_state import Command, ReleaseState
from raygate.canary.store import ReleaseStore
from raygate.constants import ALIAS_CHAMPION
from raygate.errors import MetricsError, RaygateError, ReleaseError, UnservableVersionError

OnLook = Callable[[ReleaseState, dict[str, Any]], None]
Notify = Callable[[str, ReleaseState], Any]  # e.g. canary.webhooks.WebhookNotifier


class Controller:
    """Runs one release at a time to its end; time and sleep are injected (tests pass fakes)."""

    def __init__(
        self,
        policy: RolloutPolicy,
        provider: MetricsProvider,
        actions: Actions,
        store: ReleaseStore,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        on_look: OnLook | None = None,
        notify: Notify | None = None,
        command_poll_s: float = 2.0,
    ) -> None:
        self.policy, self.provider, self.actions, self.store = policy, provider, actions, store
        self._clock, self._sleep = clock, sleep
        self._on_look = on_look or (lambda state, look: None)
        self._notify = notify or (lambda event, state: None)
        self._poll_s = command_poll_s
        self.totals: WindowPair | None = None  # both variants' traffic judged so far

    # -- starting and resuming -------------------------------------------------------------

    def begin(self, model_name: str, candidate: int) -> ReleaseState:
        """The model's unfinished release of this candidate (to resume), or a new one."""
        active = self.store.active(model_name)
        if active is not None:
            if active.candidate_version != candidate:
                raise ReleaseError(
                    f"release {active.release_id} of {model_name} v{active.candidate_version} "
                    f"has not ended ({active.phase}); resume it with `raygate canary start "
                    f"{model_name}`, or end it with `raygate canary abort {model_name}`"
                )
            return active
        registry = self.actions.registry
        registry.get_version(model_name, candidate)  # a clear error for an unknown version
        champion = registry.aliases(model_name).get(ALIAS_CHAMPION)
        if champion is None:
            raise ReleaseError(
                f"{model_name} has no champion to compare the canary with; set one with "
                f"`raygate registry alias {model_name} champion VERSION`"
            )
        if champion == candidate:
            raise ReleaseError(f"{model_name} v{candidate} is already the champion")
        params = {
            "model_name": model_name,
            "candidate_version": candidate,
            "champion_version": champion,
            "policy": self.policy.model_dump_json(),
        }
        release_id = self.store.create(model_name, candidate, params)
        now = self._clock()
        state = ReleaseState(
            release_id=release_id, model_name=model_name, candidate_version=candidate,
            champion_version=champion, started_at=now, judged_until=now,
            rollout=asdict(steps.start(now)),
        )  # fmt: skip
        self.store.save(state)
        return state

    def run(self, state: ReleaseState) -> ReleaseState:
        """Drive the release to its end: promoted, rolled back, halted or aborted; refused
        while another controller drives it."""
        with ControllerClaim(self.store, state.release_id, state.model_name):
            return self._drive(self.store.load(state.release_id) or state)  # as last saved

    def _drive(self, state: ReleaseState) -> ReleaseState:
        state = self._finish_pending(state)
        if state.final:
            return state
        if state.looks == 0 and state.weight_percent == 0:
            try:
                state = self._start_traffic(state)
            except RaygateError as exc:  # no canary deployment, serving down, unknown alias
                reason = f"the canary could not be started: {exc}"
                self._end(state, "aborted", reason)
                raise ReleaseError(f"release {state.release_id} aborted: {reason}") from exc
        judge_state = self._rebuild(state)
        self.totals = judge_state.totals
        try:
            return self._loop(state, judge_state)
        except KeyboardInterrupt:
            name = state.model_name
            raise KeyboardInterrupt(
                f"release {state.release_id} of {name} is left as at its last saved look, its "
                f"canary still serving its share; `raygate canary start {name}` resumes it, "
                f"`raygate rollback {name}` ends it"
            ) from None

    def _loop(self, state: ReleaseState, judge_state: JudgeState) -> ReleaseState:
        next_look = state.judged_until + self.policy.analysis_interval_s
        while True:
            state = self._keep_weight(state)
            command = self._wait_until(state, next_look)
            if command is not None:
                state = self._obey(state, command)
                if state.final:
                    return state
                continue
            if state.paused:
                next_look = self._clock() + self.policy.analysis_interval_s
                continue
            if self.provider.settled_until(self._clock()) <= state.judged_until:
                next_look = self._clock() + 1.0  # nothing new has settled yet
                continue
            state, judge_state, decision = self._look(state, judge_state)
            self.totals = judge_state.totals
            state = self._act(state, decision)
            if state.final:
                return state
            next_look = decision.next_look_at or self._clock() + self.policy.analysis_interval_s

    def _start_traffic(self, state: ReleaseState) -> ReleaseState:
        weight = self.policy.steps[0].weight_percent
        self.actions.start(state.model_name, state.candidate_version, weight)
        start = self.provider.boundary_after(self._clock())
        rollout = steps.start(start)
        state = state.with_rollout(rollout, started_at=start, judged_until=start,
                                   weight_percent=weight)  # fmt: skip
        self.store.save(state)
        self._notify("release.started", state)
        return state

    def _rebuild(self, state: ReleaseState) -> JudgeState:
        """The judge's evidence so far, re-read from the provider in analysis-interval windows
        (empty when the provider has lost it: less evidence, never a wrong verdict)."""
        metrics = self.policy.judged_metrics()
        judge_state = JudgeState()
        start, step = state.started_at, self.policy.analysis_interval_s
        while start < state.judged_until:
            end = min(start + step, state.judged_until)
            try:
                judge_state = observe(judge_state, self.provider.window(start, end), metrics)
            except MetricsError:
                return JudgeState()
            start = end
        return judge_state

    def _finish_pending(self, state: ReleaseState) -> ReleaseState:
        if state.phase == "promoting":
            return self._promote(state, state.reason)
        if state.phase == "rolling_back":
            return self._rollback(state, state.reason)
        return state

    # -- one look --------------------------------------------------------------------------

    def _look(self, state: ReleaseState, judge_state: JudgeState):
        now = self._clock()
        end = max(state.judged_until, self.provider.settled_until(now))
        metrics = self.policy.judged_metrics()
        look: dict[str, Any] = {
            "look": state.looks + 1, "at": now, "window": [state.judged_until, end],
            "step": state.rollout_state().step + 1, "weight_percent": state.weight_percent,
        }  # fmt: skip
        try:
            window = self.provider.window(state.judged_until, end)
        except MetricsError as exc:
            verdict: Any = steps.MeasurementError(str(exc))
            look |= {"verdict": "error", "error": str(exc)}
            end = state.judged_until  # judged next time, with the next window
        else:
            judge_state = observe(judge_state, window, metrics)
            verdict = judge(judge_state, metrics)
            look |= {
                "verdict": verdict.verdict.value,
                "canary_requests": verdict.canary_requests,
                "champion_requests": verdict.champion_requests,
                "window_canary_requests": window.canary.requests,
                "window_champion_requests": window.champion.requests,
                "metrics": [m.to_dict() for m in verdict.metrics],
            }
        rollout, decision = steps.next_decision(self.policy, state.rollout_state(), verdict, now)
        look |= {"decision": decision.action.value, "reason": decision.reason}
        state = state.with_rollout(rollout, judged_until=end, looks=state.looks + 1,
                                   reason=decision.reason)  # fmt: skip
        self.store.log_look(state, look)
        self.store.save(state)
        self._on_look(state, look)
        return state, judge_state, decision

    def _act(self, state: ReleaseState, decision: steps.Decision) -> ReleaseState:
        action = decision.action
        if action is steps.Action.SET_WEIGHT:
            return self._keep_weight(state)
        if action is steps.Action.PROMOTE:
            return self._promote(state, decision.reason)
        if action is steps.Action.ROLLBACK:
            return self._rollback(state, decision.reason)
        if action is steps.Action.HALT:
            reason = (f"{decision.reason}; the canary keeps {state.weight_percent:g} % until a "
                      f"person runs `raygate promote {state.model_name}` or `raygate rollback "
                      f"{state.model_name}`")  # fmt: skip
            return self._end(state, "halted", reason)
        return state  # WAIT, AWAIT_APPROVAL: look again

    def _keep_weight(self, state: ReleaseState) -> ReleaseState:
        """Apply the current step's weight if it is not what serving last got."""
        target = self.policy.steps[state.rollout_state().step].weight_percent
        if state.paused or state.weight_percent == target:
            return state
        self.actions.set_weight(target)
        state = state.model_copy(update={"weight_percent": target})
        self.store.save(state)
        self._notify("release.step", state)
        return state

    # -- endings and commands --------------------------------------------------------------

    def _promote(self, state: ReleaseState, reason: str) -> ReleaseState:
        state = state.model_copy(update={"phase": "promoting", "reason": reason})
        self.store.save(state)
        try:
            self.actions.promote(state.model_name, state.candidate_version, reason)
        except UnservableVersionError as exc:  # champion is back on the version that serves
            return self._end(state, "halted", (
                f"{reason}, but the promotion failed: {exc}; the canary keeps "
                f"{state.weight_percent:g} % until a person runs `raygate promote "
                f"{state.model_name}` (once the champion deployment can load it) or `raygate "
                f"rollback {state.model_name}`"))  # fmt: skip
        return self._end(state.model_copy(update={"weight_percent": 0.0}), "promoted", reason)

    def _rollback(self, state: ReleaseState, reason: str, outcome: str = "rolled_back"):
        phase = "rolling_back" if outcome == "rolled_back" else state.phase
        state = state.model_copy(update={"phase": phase, "reason": reason})
        self.store.save(state)
        self.actions.rollback(
            state.model_name, state.candidate_version, state.champion_version, reason, outcome
        )
        return self._end(state.model_copy(update={"weight_percent": 0.0}), outcome, reason)

    def _end(self, state: ReleaseState, phase: str, reason: str) -> ReleaseState:
        state = state.model_copy(update={"phase": phase, "reason": reason,
                                         "ended_at": self._clock()})  # fmt: skip
        self.store.save(state)
        self._notify(f"release.{phase}", state)
        return state

    def _obey(self, state: ReleaseState, command: Command) -> ReleaseState:
        if command == "pause":
            state = state.model_copy(update={"paused": True, "reason": "paused by a person"})
        elif command == "resume":
            state = state.model_copy(update={"paused": False, "reason": "resumed by a person"})
        elif command == "promote":
            return self._promote(state, "promoted by a person")
        elif command == "rollback":
            return self._rollback(state, "rolled back by a person")
        elif command == "abort":
            return self._rollback(state, "aborted by a person", outcome="aborted")
        self.store.save(state)
        return state

    def _wait_until(self, state: ReleaseState, when: float) -> Command | None:
        """Sleep until `when`, checking for a person's command every few seconds."""
        while True:
            command = self.store.take_command(state.release_id)
            if command is not None:
                return command
            remaining = when - self._clock()
            if remaining <= 0:
                return None
            self._sleep(min(self._poll_s, remaining))


def decide_now(
    state: ReleaseState,
    command: Command,
    actions: Actions,
    store: ReleaseStore,
    reason: str,
    version: int | None = None,
    clock: Callable[[], float] = time.time,
) -> ReleaseState:
    """A person's decision on a release no controller drives — halted undecided, or left by
    its controller (Ctrl-C, a lost pod) — whose canary keeps its weight: `promote` makes its
    candidate champion; `rollback` (and `abort`, tagged so) takes the canary's traffic away
    and leaves the champion as it is. The release then ends with that outcome."""
    if version is not None and version != state.candidate_version:
        raise ReleaseError(
            f"release {state.release_id} is undecided on v{state.candidate_version}, not "
            f"v{version}; decide it first (`raygate promote {state.model_name}` or "
            f"`raygate rollback {state.model_name}`)"
        )
    if command == "promote":
        actions.promote(state.model_name, state.candidate_version, reason)
        phase = "promoted"
    elif command in ("rollback", "abort"):
        phase = "aborted" if command == "abort" else "rolled_back"
        actions.rollback(state.model_name, state.candidate_version, state.champion_version,
                         reason, phase)  # fmt: skip
    else:
        raise ReleaseError(f"a release is decided by promote, rollback or abort, not {command}")
    state = state.model_copy(update={"phase": phase, "reason": reason, "weight_percent": 0.0,
                                     "ended_at": clock()})  # fmt: skip
    store.save(state)
    return state
