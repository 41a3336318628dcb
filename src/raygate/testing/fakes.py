"""In-memory fakes of the protocols the release playbook runs on (evaluator, registry,
serving, metrics, release store, clock), so that a playbook is tested without Ray or MLflow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from raygate.canary.observations import WindowPair
from raygate.canary.release_state import Command, ReleaseState
from raygate.canary.simulate import Traffic, window_pair
from raygate.errors import (
    MetricsError,
    UnknownAliasError,
    UnknownModelError,
    UnknownVersionError,
    UnservableVersionError,
)
from raygate.gates.decide import GateDecision, GateResult
from raygate.gates.evidence import EvalEvidence
from raygate.gates.run import GateOutcome
from raygate.registry.history import HistoryEntry
from raygate.registry.protocol import AliasMoves, ModelVersion


@dataclass
class FakeClock:
    """Time that moves only when slept through."""

    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class FakeRegistry(AliasMoves):
    """ModelRegistry in memory, with raygate's alias history and rollback planner."""

    def __init__(self) -> None:
        self._versions: dict[str, list[ModelVersion]] = {}
        self._aliases: dict[str, dict[str, int]] = {}
        self._history: dict[tuple[str, str], list[HistoryEntry]] = {}

    def register(self, name: str, model_uri: str, tags: Mapping[str, str]) -> ModelVersion:
        versions = self._versions.setdefault(name, [])
        version = ModelVersion(name, len(versions) + 1, model_uri, None, dict(tags))
        versions.append(version)
        return version

    def get_version(self, name: str, version: int) -> ModelVersion:
        for found in self._model(name):
            if found.version == version:
                aliases = tuple(a for a, v in self._aliases.get(name, {}).items() if v == version)
                return ModelVersion(found.name, found.version, found.source, found.run_id,
                                    found.tags, tuple(sorted(aliases)))  # fmt: skip
        raise UnknownVersionError(f"model '{name}' has no version {version}")

    def list_versions(self, name: str) -> list[ModelVersion]:
        return [self.get_version(name, v.version) for v in self._model(name)]

    def tag_version(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        self.get_version(name, version).tags.update(tags)

    def aliases(self, name: str) -> dict[str, int]:
        self._model(name)
        return dict(self._aliases.get(name, {}))

    def resolve(self, name: str, alias: str) -> ModelVersion:
        if alias not in self.aliases(name):
            raise UnknownAliasError(f"model '{name}' has no alias '{alias}'")
        return self.get_version(name, self._aliases[name][alias])

    def alias_history(self, name: str, alias: str) -> list[HistoryEntry]:
        return list(self._history.get((name, alias), []))

    @staticmethod
    def _clock() -> str:
        return "now"

    def _move(self, name: str, alias: str, entry: HistoryEntry) -> None:
        self._aliases.setdefault(name, {})[alias] = entry.version
        self._history.setdefault((name, alias), []).append(entry)

    def _model(self, name: str) -> list[ModelVersion]:
        if name not in self._versions:
            raise UnknownModelError(f"no registered model named '{name}'")
        return self._versions[name]


@dataclass
class FakeServing:
    """ServingControl in memory: the canary's weight, and which version each variant serves
    (resolved from the registry's aliases on refresh, as replicas do; a version in
    `unservable` fails to load and the variant keeps what it served, as replicas do)."""

    registry: FakeRegistry
    model_name: str
    weight_percent: float = 0.0
    serves: dict[str, int | None] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    unservable: set[int] = field(default_factory=set)

    def set_weight(self, percent: float) -> None:
        self.calls.append(("set_weight", percent))
        self.weight_percent = percent

    def refresh(self, variant: str) -> None:
        self.calls.append(("refresh", variant))
        alias = {"champion": "champion", "canary": "candidate"}[variant]
        version = self.registry.aliases(self.model_name).get(alias)
        if version in self.unservable:
            raise UnservableVersionError(
                f"the {variant} deployment could not load v{version}; its replicas keep "
                f"serving v{self.serves.get(variant)}"
            )
        self.serves[variant] = version


class SimulatedProvider:
    """MetricsProvider over simulated traffic: `rps` requests a second split by the fake
    serving's weight; each version behaves as `behaviour` says (default: Traffic())."""

    bucket_s = 1.0

    def __init__(
        self,
        serving: FakeServing,
        rps: float,
        behaviour: Mapping[int, Traffic] | None = None,
        seed: int = 0,
        failing: bool = False,
    ) -> None:
        self.serving, self.rps = serving, rps
        self.behaviour = dict(behaviour or {})
        self.failing = failing
        self._rng = np.random.default_rng(seed)

    def window(self, start_ts: float, end_ts: float) -> WindowPair:
        if self.failing:
            raise MetricsError("simulated provider outage")
        requests = round(self.rps * max(0.0, end_ts - start_ts))
        champion = self.behaviour.get(self.serving.serves.get("champion"), Traffic())
        canary = self.behaviour.get(self.serving.serves.get("canary"), Traffic())
        share = self.serving.weight_percent / 100
        return window_pair(champion, canary, requests, share, self._rng)

    def settled_until(self, now: float) -> float:
        return float(int(now))

    def boundary_after(self, ts: float) -> float:
        return float(-int(-ts // 1))


class FakeReleaseStore:
    """ReleaseStore in memory; `saves` keeps every state saved, in order."""

    def __init__(self) -> None:
        self.states: dict[str, ReleaseState] = {}
        self.saves: list[ReleaseState] = []
        self.looks_by_id: dict[str, list[dict[str, Any]]] = {}
        self.commands: dict[str, Command] = {}
        self.created: list[str] = []
        self.attached: dict[str, list[Path]] = {}
        self.claims: dict[str, dict[str, Any]] = {}

    def create(self, model_name: str, candidate_version: int, params: dict[str, Any]) -> str:
        self.created.append(f"release-{len(self.created) + 1}")
        return self.created[-1]

    def load(self, release_id: str) -> ReleaseState | None:
        return self.states.get(release_id)

    def save(self, state: ReleaseState) -> None:
        self.states[state.release_id] = state
        self.saves.append(state)

    def active(self, model_name: str) -> ReleaseState | None:
        return next((s for s in reversed(self.states.values())
                     if s.model_name == model_name and not s.final), None)  # fmt: skip

    def latest(self, model_name: str) -> ReleaseState | None:
        return next((s for s in reversed(self.states.values()) if s.model_name == model_name),
                    None)  # fmt: skip

    def log_look(self, state: ReleaseState, look: dict[str, Any]) -> None:
        self.looks_by_id.setdefault(state.release_id, []).append(look)

    def looks(self, release_id: str) -> list[dict[str, Any]]:
        return list(self.looks_by_id.get(release_id, []))

    def send(self, release_id: str, command: Command) -> None:
        self.commands[release_id] = command

    def take_command(self, release_id: str) -> Command | None:
        return self.commands.pop(release_id, None)

    def attach(self, release_id: str, path: Path) -> None:
        self.attached.setdefault(release_id, []).append(path)

    def claim_of(self, release_id: str) -> dict[str, Any] | None:
        return self.claims.get(release_id)

    def set_claim(self, release_id: str, claim: dict[str, Any] | None) -> None:
        if claim is None:
            self.claims.pop(release_id, None)
        else:
            self.claims[release_id] = claim


class FakeEvaluator:
    """Evaluator whose gates pass or fail as `passes[model_uri]` says (default: pass)."""

    def __init__(self, passes: Mapping[str, bool] | None = None) -> None:
        self.passes = dict(passes or {})
        self.runs: dict[str, str] = {}

    def evaluate(self, model_uri: str, gold: str) -> str:
        run_id = f"eval-{len(self.runs) + 1}"
        self.runs[run_id] = model_uri
        return run_id

    def gate(self, run_id: str, name: str) -> GateOutcome:
        uri = self.runs[run_id]
        verdict = "pass" if self.passes.get(uri, True) else "fail"
        evidence = EvalEvidence(run_id, uri, uri, "fake", "sha256:fake", {"quality": 0.9}, {})
        gate = GateResult("quality", 0.9, "≥ 0.5", verdict)
        return GateOutcome(evidence, None, GateDecision((gate,)))
