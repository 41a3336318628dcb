"""Gate an eval run: gather the champion's evidence and the contract, then decide()."""

from __future__ import annotations

from dataclasses import dataclass

from raygate.errors import GateError, UnknownAliasError, UnknownModelError
from raygate.gates.contract import check_contract
from raygate.gates.decide import GateDecision, decide
from raygate.gates.evidence import (
    EvalEvidence,
    find_eval,
    load_eval,
    load_run_metrics,
    paired_scores,
)
from raygate.gates.policy import GatePolicy
from raygate.packaging.loading import registry_name
from raygate.registry.protocol import ModelRegistry, ModelVersion


@dataclass(frozen=True)
class GateOutcome:
    """The decision with the evidence it rests on."""

    candidate: EvalEvidence
    champion: ModelVersion | None
    decision: GateDecision


def champion_version(registry: ModelRegistry, name: str, alias: str) -> ModelVersion | None:
    """The version `alias` points to, or None before the first release."""
    try:
        return registry.resolve(name, alias)
    except (UnknownModelError, UnknownAliasError):
        return None


def gate_eval_run(
    run_id: str,
    policy: GatePolicy,
    registry: ModelRegistry,
    name: str | None,
    against: str | None,
    load_run_id: str | None = None,
) -> GateOutcome:
    """Judge the eval run (and a load run, when given) against the policy and, when
    `against` is set, NAME@against."""
    candidate = load_eval(run_id)
    load_metrics = load_run_metrics(load_run_id) if load_run_id else None
    name = name or registry_name(candidate.model_uri)
    champion = None
    if against:
        if name is None:
            raise GateError(
                f"{candidate.model_id} is not a registered version; pass --name NAME to compare "
                f"it against NAME@{against}"
            )
        champion = champion_version(registry, name, against)
    paired = None
    if champion is not None and policy.relative is not None:
        evidence = find_eval(champion.model_id, candidate.goldset_hash)
        if evidence is None:
            raise GateError(
                f"{against} {champion.model_id} has no eval on gold set '{candidate.goldset_name}' "
                f"({candidate.goldset_hash[:19]}…); run `raygate eval {champion.uri} "
                f"--gold {candidate.goldset_name}` first"
            )
        paired = paired_scores(candidate, evidence, policy.relative.metric)
    contract = check_contract(candidate.model_uri, champion.uri if champion else None)
    decision = decide(policy, candidate.metrics, paired, contract, load_metrics=load_metrics)
    return GateOutcome(candidate, champion, decision)
