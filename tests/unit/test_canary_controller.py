"""The canary controller and the release playbook on in-memory fakes: one test per rule,
including a crash at every point the controller persists."""

import os
import socket
import subprocess
import sys
import time

import pytest

from raygate.canary.actions import TAG_OUTCOME, Actions
from raygate.canary.claim import CLAIM_TTL_S
from raygate.canary.controller import Controller, decide_now
from raygate.canary.policy import RolloutPolicy
from raygate.canary.simulate import Traffic
from raygate.errors import ReleaseError, UnservableVersionError
from raygate.release import run_release
from raygate.testing.fakes import (
    FakeClock,
    FakeEvaluator,
    FakeRegistry,
    FakeReleaseStore,
    FakeServing,
    SimulatedProvider,
)

NAME = "agent"
POLICY = RolloutPolicy(
    analysis_interval_s=10,
    steps=[
        {"weight_percent": 10, "min_duration_s": 30, "min_canary_requests": 50},
        {"weight_percent": 50, "min_duration_s": 60, "min_canary_requests": 500},
    ],
    limits={"inconclusive_limit": 60, "consecutive_error_limit": 2},
    timeout_s=3600,
)
SLOW = Traffic().regressed("latency_ms", 1.6)


class World:
    """v1 champion, v2 (no different) and v3 (60 % slower) registered; serving follows."""

    def __init__(self, rps: float = 400, behaviour=None, seed: int = 0):
        self.registry = FakeRegistry()
        for version in (1, 2, 3):
            self.registry.register(NAME, f"runs:/r{version}/agent", {})
        self.registry.set_alias(NAME, "champion", 1)
        self.serving = FakeServing(self.registry, NAME)
        self.serving.refresh("champion")
        self.provider = SimulatedProvider(self.serving, rps, behaviour or {3: SLOW}, seed)
        self.store = FakeReleaseStore()
        self.clock = FakeClock()
        self.notes: list[str] = []

    def controller(self, store=None, policy=POLICY) -> Controller:
        actions = Actions(self.registry, self.serving, self.notes.append)
        return Controller(policy, self.provider, actions, store or self.store,
                          clock=self.clock, sleep=self.clock.sleep)  # fmt: skip

    def release(self, candidate: int, **kwargs):
        controller = self.controller(**kwargs)
        return controller.run(controller.begin(NAME, candidate))

    def champion_sets(self) -> list[int]:
        return [
            e.version for e in self.registry.alias_history(NAME, "champion") if e.action == "set"
        ]


def test_a_canary_no_worse_than_its_champion_is_promoted_by_one_flip():
    world = World()
    state = world.release(2)
    assert state.phase == "promoted", state.reason
    assert world.registry.aliases(NAME)["champion"] == 2
    assert world.champion_sets() == [1, 2]
    assert world.serving.serves["champion"] == 2 and world.serving.weight_percent == 0
    assert world.registry.get_version(NAME, 2).tags[TAG_OUTCOME] == "promoted"
    weights = [arg for call, arg in world.serving.calls if call == "set_weight"]
    assert 10 in weights and 50 in weights


def test_a_slower_canary_is_rolled_back_with_its_measured_reason():
    world = World()
    state = world.release(3)
    assert state.phase == "rolled_back"
    assert "latency_ms" in state.reason and "canary" in state.reason
    assert world.registry.aliases(NAME)["champion"] == 1
    assert world.serving.weight_percent == 0
    assert world.registry.get_version(NAME, 3).tags[TAG_OUTCOME] == "rolled_back"


def test_every_look_is_recorded_with_its_evidence_and_decision():
    world = World()
    state = world.release(3)
    looks = world.store.looks(state.release_id)
    assert len(looks) == state.looks and looks[-1]["decision"] == "rollback"
    assert {m["metric"] for m in looks[-1]["metrics"]} >= {"error_rate", "latency_ms"}
    assert all(look["window"][0] <= look["window"][1] for look in looks)


def test_a_provider_outage_is_a_measurement_error_never_a_verdict_then_rolls_back():
    world = World()
    world.provider.failing = True
    state = world.release(2)
    looks = world.store.looks(state.release_id)
    assert [look["verdict"] for look in looks] == ["error"] * 3
    assert state.phase == "rolled_back" and "measurement errors" in state.reason
    assert world.registry.aliases(NAME)["champion"] == 1


def test_too_little_traffic_halts_inconclusive_and_leaves_the_decision_to_a_person():
    world = World(rps=2)
    policy = POLICY.model_copy(update={"limits": POLICY.limits.model_copy(
        update={"inconclusive_limit": 1})})  # fmt: skip
    state = world.release(2, policy=policy)
    assert state.phase == "halted" and "raygate promote" in state.reason
    assert world.registry.aliases(NAME)["champion"] == 1


@pytest.mark.parametrize(("command", "phase", "champion"),
                         [("rollback", "rolled_back", 1), ("promote", "promoted", 2)])  # fmt: skip
def test_a_person_s_decision_ends_a_halted_release_without_touching_anything_else(
    command, phase, champion
):
    world = World(rps=2)
    policy = POLICY.model_copy(update={"limits": POLICY.limits.model_copy(
        update={"inconclusive_limit": 1})})  # fmt: skip
    halted = world.release(2, policy=policy)
    assert halted.phase == "halted" and world.serving.weight_percent == halted.weight_percent > 0
    actions = Actions(world.registry, world.serving, world.notes.append)
    with pytest.raises(ReleaseError, match="is undecided on v2, not v3"):
        decide_now(halted, command, actions, world.store, "a person", version=3)
    state = decide_now(halted, command, actions, world.store, "a person", clock=world.clock)
    assert state.phase == phase and world.store.latest(NAME).phase == phase
    assert world.serving.weight_percent == 0
    # champion is the candidate only when promoted; a rollback leaves v1 where it was
    assert world.registry.aliases(NAME)["champion"] == champion
    assert world.champion_sets() == [1, 2][:champion]


class Crash(Exception):
    pass


class CrashingStore(FakeReleaseStore):
    """Dies at its `crash_at`-th save, before writing it (a controller killed mid-step)."""

    def __init__(self, crash_at: int) -> None:
        super().__init__()
        self.crash_at, self.count = crash_at, 0

    def save(self, state) -> None:
        self.count += 1
        if self.count == self.crash_at:
            raise Crash
        super().save(state)


def _saves_in_a_full_run(candidate: int) -> int:
    world = World()
    world.release(candidate)
    return len(world.store.saves)


@pytest.mark.parametrize("candidate,final_champion", [(2, 2), (3, 1)])
def test_a_controller_killed_at_any_save_resumes_to_the_right_alias_flipped_at_most_once(
    candidate, final_champion
):
    for crash_at in range(1, _saves_in_a_full_run(candidate) + 1):
        world = World()
        store = CrashingStore(crash_at)
        with pytest.raises(Crash):
            world.release(candidate, store=store)
        store.crash_at = -1  # the restarted controller lives
        state = world.release(candidate, store=store)
        assert state.final, crash_at
        assert world.registry.aliases(NAME)["champion"] == final_champion, crash_at
        assert world.champion_sets().count(2) <= 1, crash_at
        assert world.serving.weight_percent == 0, crash_at


def test_a_crash_after_the_flip_finishes_the_promotion_on_restart_without_a_second_flip():
    world = World()

    class DiesAfterFlip(FakeServing):
        def refresh(self, variant):
            if variant == "champion" and world.registry.aliases(NAME)["champion"] == 2:
                raise Crash
            super().refresh(variant)

    world.serving.__class__ = DiesAfterFlip
    with pytest.raises(Crash):
        world.release(2)
    assert world.store.active(NAME).phase == "promoting"
    world.serving.__class__ = FakeServing
    state = world.release(2)
    assert state.phase == "promoted" and world.champion_sets() == [1, 2]
    assert world.serving.serves["champion"] == 2


def test_ctrl_c_leaves_the_release_resumable_and_says_how_to_resume_or_end_it():
    world = World()
    calls = 0

    def sleep_then_ctrl_c(seconds: float) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        world.clock.sleep(seconds)

    actions = Actions(world.registry, world.serving, world.notes.append)
    controller = Controller(POLICY, world.provider, actions, world.store,
                            clock=world.clock, sleep=sleep_then_ctrl_c)  # fmt: skip
    with pytest.raises(KeyboardInterrupt, match=f"`raygate canary start {NAME}` resumes it"):
        controller.run(controller.begin(NAME, 2))
    assert world.store.active(NAME).phase == "running"
    assert world.release(2).phase == "promoted"  # resumed to its end


def test_pause_stops_the_looks_until_resume():
    world = World()
    controller = world.controller()
    state = controller.begin(NAME, 2)
    world.store.send(state.release_id, "pause")
    resume_at = world.clock.now + 300

    def sleep(seconds):  # a person resumes five minutes later
        world.clock.sleep(seconds)
        if world.clock.now >= resume_at and world.store.states[state.release_id].paused:
            world.store.send(state.release_id, "resume")

    controller._sleep = sleep
    state = controller.run(state)
    assert state.phase == "promoted"
    paused = [s for s in world.store.saves if s.paused]
    assert paused and len({s.looks for s in paused}) == 1  # no look while paused


@pytest.mark.parametrize("command,phase,champion", [("abort", "aborted", 1),
                                                    ("promote", "promoted", 3),
                                                    ("rollback", "rolled_back", 1)])  # fmt: skip
def test_a_person_s_command_ends_the_release_at_once(command, phase, champion):
    world = World()
    controller = world.controller()
    state = controller.begin(NAME, 3)
    world.store.send(state.release_id, command)
    state = controller.run(state)
    assert state.phase == phase and state.looks == 0
    assert world.registry.aliases(NAME)["champion"] == champion
    assert world.serving.weight_percent == 0


def test_a_second_candidate_waits_for_the_running_release():
    world = World()
    world.controller().begin(NAME, 2)
    with pytest.raises(ReleaseError, match="has not ended"):
        world.controller().begin(NAME, 3)
    assert world.controller().begin(NAME, 2).candidate_version == 2  # resumes it


def test_a_release_another_controller_drives_is_refused_and_left_as_it_is():
    """Two `raygate canary start` on one release each ramped it, and a pause sent to it was
    taken by one while the other went on to 50 %."""
    world = World()
    controller = world.controller()
    state = controller.begin(NAME, 2)
    driving = {"host": "other-host", "pid": 4321, "id": "other", "renewed_at": time.time()}
    world.store.set_claim(state.release_id, driving)
    saves = len(world.store.saves)
    refused = r"driven by another controller \(pid 4321 on other-host, seen 0 s ago\); follow"
    with pytest.raises(ReleaseError, match=refused):
        controller.run(state)
    assert len(world.store.saves) == saves and world.serving.weight_percent == 0
    assert world.store.claim_of(state.release_id) == driving


def _exited_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("gone", ["lapsed", "exited"])
def test_a_release_whose_controller_is_gone_is_taken_over_and_let_go_at_its_end(gone):
    """A controller killed without stopping (kill -9, a lost pod) leaves its claim: a claim
    not renewed within its TTL, or whose process on this host has exited, is taken over."""
    world = World()
    controller = world.controller()
    state = controller.begin(NAME, 2)
    claim = {"host": "other-host", "pid": 4321, "id": "old",
             "renewed_at": time.time() - CLAIM_TTL_S - 1}  # fmt: skip
    if gone == "exited":
        claim.update(host=socket.gethostname(), pid=_exited_pid(), renewed_at=time.time())
    world.store.set_claim(state.release_id, claim)
    assert controller.run(state).phase == "promoted"
    assert world.store.claim_of(state.release_id) is None  # let go at the end


@pytest.mark.parametrize("command,phase", [("rollback", "rolled_back"), ("abort", "aborted")])
def test_a_rollback_of_a_release_its_controller_left_ends_it_at_once(command, phase, monkeypatch):
    """After Ctrl-C the controller says "`raygate rollback` ends it"; rollback then sent the
    command and waited 300 s for a controller nobody ran, and failed (`canary abort` only
    queued it, its canary keeping its share)."""
    from types import SimpleNamespace

    import raygate.release_runtime as rt
    from raygate.cli.release import _decide

    world = World()
    controller = world.controller()
    state = controller.begin(NAME, 2)
    world.serving.set_weight(10)  # its canary serving its share, as a controller left it
    world.store.save(state.model_copy(update={"weight_percent": 10.0, "looks": 3}))
    actions = Actions(world.registry, world.serving, world.notes.append)
    parts = SimpleNamespace(store=world.store, registry=world.registry, actions=actions)
    monkeypatch.setattr(rt, "runtime", lambda *args, **kwargs: parts)
    world.store.set_claim(state.release_id, {"host": socket.gethostname(), "pid": os.getpid(),
                                             "id": "live", "renewed_at": time.time()})  # fmt: skip
    with pytest.raises(ReleaseError, match=rf"has not acted on '{command}' in 0\.5 s"):
        _decide(NAME, command, None, "a person", None, None, 0.5)  # a live one is asked
    world.store.take_command(state.release_id)
    world.store.set_claim(state.release_id, None)
    _decide(NAME, command, None, "a person", None, None, 300)
    ended = world.store.load(state.release_id)
    assert ended.phase == phase and ended.reason == "a person"
    assert world.serving.weight_percent == 0 and world.registry.aliases(NAME)["champion"] == 1
    assert world.store.claim_of(state.release_id) is None
    assert world.registry.get_version(NAME, 2).tags[TAG_OUTCOME] == phase
    if command == "abort":
        with pytest.raises(ReleaseError, match="has no release to abort"):
            _decide(NAME, command, None, "a person", None, None, 300)


def test_a_pause_sent_to_a_release_no_controller_drives_says_nothing_moves_it(monkeypatch, capsys):
    import raygate.canary.store
    from raygate.cli.release import _command

    world = World()
    state = world.controller().begin(NAME, 2)
    world.store.save(state.model_copy(update={"weight_percent": 10.0}))
    monkeypatch.setattr(raygate.canary.store, "MlflowReleaseStore", lambda: world.store)
    _command(NAME, "pause")
    said = " ".join(capsys.readouterr().out.split())
    assert (
        "no controller drives it now (stopped or gone), so nothing moves its canary from "
        "10 %: `raygate canary start agent` resumes it and takes the pause first" in said
    )
    world.store.set_claim(state.release_id, {"host": socket.gethostname(), "pid": os.getpid(),
                                             "id": "live", "renewed_at": time.time()})  # fmt: skip
    _command(NAME, "resume")
    assert "its controller acts on it within seconds" in capsys.readouterr().out
    assert world.store.take_command(state.release_id) == "resume"  # the latest is taken


def test_the_champion_itself_cannot_be_canaried():
    with pytest.raises(ReleaseError, match="already the champion"):
        World().controller().begin(NAME, 1)


def test_without_a_champion_there_is_nothing_to_compare_with():
    world = World()
    world.registry.register("other", "runs:/x/agent", {})
    with pytest.raises(ReleaseError, match="no champion"):
        world.controller().begin("other", 1)


# -- the playbook ------------------------------------------------------------------------


def test_the_playbook_registers_nothing_when_the_offline_gates_fail():
    world = World()
    failing = FakeEvaluator({"runs:/new/agent": False})
    outcome = run_release("runs:/new/agent", NAME, "smoke", failing, world.registry,
                          world.controller())  # fmt: skip
    assert outcome.outcome == "gates_failed" and "quality" in outcome.reason
    assert len(world.registry.list_versions(NAME)) == 3 and outcome.release is None


def test_the_playbook_takes_a_passing_model_through_the_canary_to_champion():
    world = World()
    outcome = run_release("runs:/new/agent", NAME, "smoke", FakeEvaluator(), world.registry,
                          world.controller())  # fmt: skip
    assert outcome.outcome == "promoted" and outcome.version == 4
    assert world.registry.aliases(NAME) == {"champion": 4, "candidate": 4}
    assert world.registry.get_version(NAME, 4).tags["raygate.eval_run_id"] == "eval-1"


def test_the_playbook_rolls_back_a_model_that_regresses_live():
    world = World(behaviour={4: SLOW})
    outcome = run_release("runs:/new/agent", NAME, "smoke", FakeEvaluator(), world.registry,
                          world.controller())  # fmt: skip
    assert outcome.outcome == "rolled_back" and "latency_ms" in outcome.reason
    assert world.registry.aliases(NAME)["champion"] == 1


def test_every_step_and_the_ending_are_notified():
    world = World()
    events = []
    controller = world.controller()
    controller._notify = lambda event, state: events.append((event, state.weight_percent))
    controller.run(controller.begin(NAME, 3))
    assert events[0] == ("release.started", 10) and events[-1] == ("release.rolled_back", 0)


def test_a_webhook_url_without_a_secret_is_refused(monkeypatch):
    from raygate.errors import ConfigError
    from raygate.release_runtime import webhook_notifier

    monkeypatch.setenv("RAYGATE_WEBHOOK_URL", "https://hooks.example/raygate")
    monkeypatch.delenv("RAYGATE_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigError, match="RAYGATE_WEBHOOK_SECRET"):
        webhook_notifier()
    monkeypatch.setenv("RAYGATE_WEBHOOK_SECRET", "s")
    assert webhook_notifier().url == "https://hooks.example/raygate"


def test_a_canary_that_cannot_be_started_ends_aborted_instead_of_blocking_the_next_release():
    from raygate.errors import ConfigError

    world = World()

    class NoCanary(FakeServing):
        def refresh(self, variant):
            if variant == "canary":
                raise ConfigError("this app serves no canary")
            super().refresh(variant)

    world.serving.__class__ = NoCanary
    with pytest.raises(ReleaseError, match="aborted: the canary could not be started: this app"):
        world.release(2)
    assert world.store.active(NAME) is None
    assert "could not be started" in world.store.latest(NAME).reason


def test_a_release_without_traffic_says_so_at_every_look_and_halts_at_its_timeout(capsys):
    from raygate.cli.release import print_look

    world = World(rps=0)
    short = POLICY.model_copy(update={"timeout_s": 60})
    controller = world.controller(policy=short)
    controller._on_look = print_look
    state = controller.run(controller.begin(NAME, 2))
    assert state.phase == "halted" and "no requests have reached either variant" in state.reason
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 5 and all("no traffic reaches the app yet" in line for line in lines)


def test_a_canary_that_cannot_load_its_version_aborts_before_any_traffic_moves():
    world = World()
    world.serving.unservable.add(2)
    with pytest.raises(ReleaseError, match="aborted: the canary could not be started"):
        world.release(2)
    (state,) = world.store.states.values()
    assert state.phase == "aborted" and "could not load v2" in state.reason
    assert world.serving.weight_percent == 0 and world.registry.aliases(NAME)["champion"] == 1


def test_a_promotion_the_champion_deployment_cannot_load_halts_with_champion_unmoved():
    world = World()
    world.serving.unservable.add(2)
    world.serving.serves["canary"] = 2  # the canary's replicas could load it; the champion's not
    controller = world.controller()
    state = controller.begin(NAME, 2)
    state = controller._promote(state, "every metric passed")
    assert state.phase == "halted" and "champion stays v1" in state.reason
    assert world.registry.aliases(NAME)["champion"] == 1 and world.serving.serves["champion"] == 1
    assert world.champion_sets() == [1, 2] and world.serving.weight_percent == state.weight_percent


def test_promote_and_rollback_outside_a_release_never_leave_champion_on_what_cannot_serve():
    world = World()
    actions = Actions(world.registry, world.serving, world.notes.append)
    world.serving.unservable.add(3)
    with pytest.raises(UnservableVersionError, match=r"v3 is not champion.*champion stays v1"):
        actions.promote(NAME, 3, "by hand")
    assert world.registry.aliases(NAME)["champion"] == 1 and world.serving.serves["champion"] == 1
    actions.promote(NAME, 2, "by hand")
    world.serving.unservable.add(1)  # the version before is gone now
    with pytest.raises(UnservableVersionError, match=r"v1 is not champion.*champion stays v2"):
        actions.rollback_champion(NAME, "by hand")
    assert world.registry.aliases(NAME)["champion"] == 2 and world.serving.serves["champion"] == 2
