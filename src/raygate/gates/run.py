"""Gate an eval run: gather the champion's evidence and the contract, then decide()."""

from __future__ import annotations

from dataclasses import dataclass

from raygate.constants import ROWS, TAG_EVAL_RUN_ID, TAG_GOLDSET_HASH
from raygate.errors import GateError, UnknownAliasError, UnknownModelError
from raygate.gates.contract import check_contract
from raygate.gates.decide import GateDecision, decide
from raygate.gates.evidence import (
    EvalEvidence,
    find_eval,
    load_eval,
    load_run_metrics,
    load_run_model_ids,
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
    check_gold(policy, candidate)
    name = name or registry_name(candidate.model_uri)
    load_metrics = None
    if load_run_id:
        load_metrics = load_run_metrics(load_run_id)
        check_load_run(load_run_id, candidate, registry, name)
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
        evidence = version_eval(champion, candidate.goldset_hash)
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


def version_eval(version: ModelVersion, goldset_hash: str) -> EvalEvidence | None:
    """The version's newest eval on the gold set with this hash, else the eval that gated it
    on that gold set; None when it has none."""
    return find_eval(version.model_id, goldset_hash) or gating_eval(version, goldset_hash)


def gating_eval(version: ModelVersion, goldset_hash: str) -> EvalEvidence | None:
    """The eval that gated the version at registration (its eval_run_id tag: an eval of the
    logged model before it had a version), if it ran on the gold set with this hash."""
    run_id = version.tags.get(TAG_EVAL_RUN_ID)
    if not run_id or version.tags.get(TAG_GOLDSET_HASH) != goldset_hash:
        return None
    return load_eval(run_id)


def check_gold(policy: GatePolicy, candidate: EvalEvidence) -> None:
    """Refuse an eval on a gold set other than the policy's, or on too few rows."""
    wanted = policy.gold
    if wanted is None:
        return
    if wanted.name is not None and candidate.goldset_name != wanted.name:
        raise GateError(
            f"eval run {candidate.run_id} ran on gold set '{candidate.goldset_name}', but the "
            f"policy requires '{wanted.name}'; run `raygate eval {candidate.model_uri} --gold "
            f"{wanted.name}`"
        )
    rows = candidate.metrics.get(ROWS)
    if wanted.min_rows is not None and (rows is None or rows < wanted.min_rows):
        raise GateError(
            f"eval run {candidate.run_id} scored {rows:g} gold rows, fewer than the policy's "
            f"gold.min_rows {wanted.min_rows}; evaluate on a larger gold set"
            if rows is not None
            else f"eval run {candidate.run_id} does not say how many rows it scored"
        )


def check_load_run(
    load_run_id: str, candidate: EvalEvidence, registry: ModelRegistry, name: str | None
) -> None:
    """Refuse a load run that the version being gated did not answer alone: one that never
    reached it, or whose figures mix in another version's answers (a canary at 5 % would be
    gated on its champion's latency)."""
    answered = load_run_model_ids(load_run_id)
    ids = {candidate.model_id}
    if name is not None:  # an eval by logged-model URI: the versions registered from it
        try:
            versions = registry.list_versions(name)
        except UnknownModelError:
            versions = []
        ids |= {v.model_id for v in versions if v.source == candidate.model_uri}
    if not answered & ids:
        seen = ", ".join(sorted(answered)) or "no version (it recorded none)"
        raise GateError(
            f"load run {load_run_id} was answered by {seen}, not by the candidate "
            f"{' or '.join(sorted(ids))}; load-test the served candidate (`raygate loadtest … "
            "--log-mlflow`) and pass that run"
        )
    if others := answered - ids:
        raise GateError(
            f"load run {load_run_id} was answered by {', '.join(sorted(others))} as well as the "
            f"candidate {' or '.join(sorted(answered & ids))}: its figures are not the "
            "candidate's alone; load-test a deployment where the candidate answers every request "
            "(e.g. a staging app after `raygate serve weight 100`) and pass that run"
        )
