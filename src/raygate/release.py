"""The release playbook: evaluate → gate → register `candidate` → canary → promote or roll
back, on the evaluator, registry, serving and metrics protocols (in-memory fakes of each live
in raygate.testing, so the whole playbook is tested without Ray or MLflow)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import Field

from raygate import constants as c
from raygate.canary.controller import Controller
from raygate.canary.release_state import ReleaseState
from raygate.capacity import EVAL_START_TIMEOUT_S
from raygate.errors import ConfigError
from raygate.evaluation.deadlines import ROW_TIMEOUT_S
from raygate.gates.run import GateOutcome
from raygate.packaging.loading import registry_name
from raygate.registry.protocol import AliasChange, ModelRegistry, ModelVersion
from raygate.schemas import StrictModel, load_yaml_model, validate_mapping


class Evaluator(Protocol):
    """Offline evidence: an eval run of a model on a gold set, and the gates' verdict on it."""

    def evaluate(self, model_uri: str, gold: str) -> str:
        """The eval run's id."""
        ...

    def gate(self, run_id: str, name: str) -> GateOutcome: ...


@dataclass(frozen=True)
class Registered:
    """A version that passed its gates, and the alias change that made it the candidate."""

    version: ModelVersion
    change: AliasChange


def register_candidate(
    registry: ModelRegistry,
    outcome: GateOutcome,
    name: str,
    alias: str = c.ALIAS_CANDIDATE,
    build_tags: Callable[[str], Mapping[str, str]] = lambda uri: {},
) -> Registered:
    """Register the gated model under NAME (or tag it, if the eval ran on a version of NAME)
    and point ALIAS at it. Only for an outcome whose gates passed."""
    if not outcome.decision.passed:
        raise ValueError("register_candidate needs an outcome whose gates passed")
    evidence = outcome.candidate
    run_id = evidence.run_id
    eval_tags = {c.TAG_EVAL_RUN_ID: run_id, c.TAG_GOLDSET_HASH: evidence.goldset_hash}
    if registry_name(evidence.model_uri) == name:
        from raygate.packaging.loading import resolve_model_uri

        version = resolve_model_uri(evidence.model_uri, registry)
        registry.tag_version(name, version.version, eval_tags)
    else:
        tags = {k: v for k, v in build_tags(evidence.model_uri).items()
                if k.startswith(c.TAG_PREFIX)}  # fmt: skip
        version = registry.register(name, evidence.model_uri, {**tags, **eval_tags})
    change = registry.set_alias(name, alias, version.version, f"gates passed on eval {run_id}")
    return Registered(version, change)


@dataclass(frozen=True)
class ReleaseOutcome:
    """How a release ended: `gates_failed`, `promoted`, `rolled_back`, `halted` or `aborted`."""

    model_uri: str
    outcome: str
    reason: str
    eval_run_id: str
    gates: GateOutcome
    version: int | None = None
    release: ReleaseState | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_uri": self.model_uri,
            "version": self.version,
            "outcome": self.outcome,
            "reason": self.reason,
            "eval_run_id": self.eval_run_id,
            "release_id": self.release.release_id if self.release else None,
            "gates": self.gates.decision.to_dict(),
        }


def run_release(
    model_uri: str,
    name: str,
    gold: str,
    evaluator: Evaluator,
    registry: ModelRegistry,
    controller: Controller,
    build_tags: Callable[[str], Mapping[str, str]] = lambda uri: {},
) -> ReleaseOutcome:
    """The whole playbook for one model: offline gates first, then the live canary."""
    run_id = evaluator.evaluate(model_uri, gold)
    gates = evaluator.gate(run_id, name)
    if not gates.decision.passed:
        failed = ", ".join(g.name for g in gates.decision.gates if g.verdict == "fail")
        return ReleaseOutcome(model_uri, "gates_failed", f"offline gates failed: {failed}",
                              run_id, gates)  # fmt: skip
    registered = register_candidate(registry, gates, name, build_tags=build_tags)
    version = registered.version.version
    state = controller.run(controller.begin(name, version))
    return ReleaseOutcome(model_uri, state.phase, state.reason, run_id, gates, version, state)


class EvalResources(StrictModel):
    """How the release's offline eval spreads over the cluster: `raygate eval`'s options."""

    workers: int = Field(2, ge=1, description="Ray Data actors, each loading the model once.")
    batch_size: int = Field(16, ge=1, description="Rows per predict() call.")
    num_cpus: float = Field(1.0, ge=0, description="CPUs reserved per actor.")
    num_gpus: float = Field(0.0, ge=0, description="GPUs reserved per actor (a GPU agent: 1).")
    start_timeout_s: float = Field(
        EVAL_START_TIMEOUT_S, gt=0, description="Seconds the actors may take to start."
    )
    row_timeout_s: float = Field(
        ROW_TIMEOUT_S,
        gt=0,
        description="Seconds the model may take to answer a row (a batch: this times its "
        "rows); a row with no answer by then fails as timed out.",
    )


class ReleaseConfig(StrictModel):
    """`raygate release --config release.yaml`: what to release and by which policies."""

    name: str = Field(min_length=1, description="Registered model name.")
    model_uri: str = Field(min_length=1, description="The model to release (any MLflow URI).")
    gold: str = Field("smoke", description="Gold set name or JSONL path for the offline eval.")
    gates: Path | None = Field(
        None,
        description="Offline gate policy YAML (default: ./policies/gates.yaml, else "
        "raygate's built-in one).",
    )
    rollout: Path | None = Field(
        None,
        description="Canary rollout policy (default: ./policies/rollout.yaml, else "
        "raygate's built-in one).",
    )
    input_map: dict[str, str] = Field(
        default_factory=dict,
        description="Model input → gold field for the offline eval (e.g. {context: category}), "
        "for a pyfunc whose inputs are named otherwise; a lone text input gets the query.",
    )
    eval: EvalResources = Field(
        default_factory=EvalResources, description="Resources of the offline eval's actors."
    )


def load_release_config(path: str | Path) -> ReleaseConfig:
    """Read and validate a release YAML; errors name the file, the line and the field."""
    return load_yaml_model(path, ReleaseConfig, ConfigError,
                           "pass a release YAML such as releases/example.yaml")  # fmt: skip


def release_config(path: Path | None, flags: Mapping[str, Any]) -> ReleaseConfig:
    """The release a command line asks for: the release file's fields, each overridden by a
    flag that was given (not None); with no file, the flags alone (name and model_uri needed)."""
    given = {field: value for field, value in flags.items() if value is not None}
    if path is None:
        if not (given.get("name") and given.get("model_uri")):
            raise ConfigError("pass --config release.yaml, or --name NAME and --model-uri URI")
        return validate_mapping(given, ReleaseConfig, ConfigError, "raygate release")
    spec = load_release_config(path)
    if "input_map" in given:  # --input-map adds to the file's map
        given["input_map"] = spec.input_map | given["input_map"]
    merged = spec.model_dump() | given
    return validate_mapping(merged, ReleaseConfig, ConfigError, f"{path} with the flags given")
