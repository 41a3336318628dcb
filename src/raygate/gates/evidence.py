"""Evidence for the gates, read back from MLflow: an eval run's metrics and per-row scores."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from raygate import constants as c
from raygate.errors import GateError
from raygate.evaluation.metrics import ROW_COLUMN
from raygate.gates.decide import PairedScores


@dataclass(frozen=True)
class EvalEvidence:
    """One finished eval run: what it evaluated, on which gold set, and its scores."""

    run_id: str
    model_uri: str
    model_id: str
    goldset_name: str
    goldset_hash: str
    metrics: dict[str, float]
    tags: dict[str, str]

    def scores(self) -> pd.DataFrame:
        """Per-row scores (id plus every ROW_COLUMN) from the run's eval table."""
        import mlflow
        import pyarrow.parquet as pq

        path = mlflow.artifacts.download_artifacts(
            run_id=self.run_id, artifact_path=c.EVAL_TABLE_ARTIFACT
        )
        return pq.read_table(path, columns=["id", *ROW_COLUMN.values()]).to_pandas()


def _raygate_run(run_id: str, kind: str, printed_by: str):
    """The MLflow run with this id if raygate logged it as `kind`, else a GateError."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        run = mlflow.get_run(run_id)
    except MlflowException:
        raise GateError(f"no MLflow run {run_id}; pass the run id {printed_by} printed") from None
    if run.data.tags.get(c.TAG_RUN_KIND) != kind:
        raise GateError(
            f"run {run_id} is not a raygate {kind} run; pass the run id {printed_by} printed"
        )
    return run


def load_eval(run_id: str) -> EvalEvidence:
    """The eval run with this id, or a GateError saying what the id is instead."""
    run = _raygate_run(run_id, "eval", "`raygate eval`")
    tags = run.data.tags
    if run.info.status != "FINISHED":
        raise GateError(f"eval run {run_id} is {run.info.status}, not FINISHED; run the eval again")
    return EvalEvidence(
        run_id=run_id,
        model_uri=tags[c.TAG_MODEL_URI],
        model_id=tags[c.TAG_MODEL_ID],
        goldset_name=tags[c.TAG_GOLDSET_NAME],
        goldset_hash=tags[c.TAG_GOLDSET_HASH],
        metrics=dict(run.data.metrics),
        tags=dict(tags),
    )


def find_eval(model_id: str, goldset_hash: str) -> EvalEvidence | None:
    """The newest finished eval of `model_id` on the gold set with this hash, if any."""
    import mlflow

    query = (
        f"tags.`{c.TAG_RUN_KIND}` = 'eval' and tags.`{c.TAG_MODEL_ID}` = '{model_id}' "
        f"and tags.`{c.TAG_GOLDSET_HASH}` = '{goldset_hash}' and attributes.status = 'FINISHED'"
    )
    runs = mlflow.search_runs(
        search_all_experiments=True,
        filter_string=query,
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    return load_eval(runs[0].info.run_id) if runs else None


def paired_scores(candidate: EvalEvidence, champion: EvalEvidence, metric: str) -> PairedScores:
    """Candidate and champion scores on the same gold ids, in the same order."""
    if candidate.goldset_hash != champion.goldset_hash:
        raise GateError(
            f"{candidate.model_id} and {champion.model_id} were evaluated on different gold sets; "
            "a paired test needs the same rows"
        )
    column = ROW_COLUMN[metric]
    merged = candidate.scores().merge(champion.scores(), on="id", suffixes=("_cand", "_champ"))
    return PairedScores(
        champion_id=champion.model_id,
        candidate=merged[f"{column}_cand"].to_numpy(),
        champion=merged[f"{column}_champ"].to_numpy(),
    )


def load_run_metrics(run_id: str) -> dict[str, float]:
    """The `load.*` metrics of a `raygate loadtest --log-mlflow` run, or a GateError."""
    run = _raygate_run(run_id, c.RUN_KIND_LOADTEST, "`raygate loadtest --log-mlflow`")
    return dict(run.data.metrics)


def load_run_model_ids(run_id: str) -> set[str]:
    """The name@version ids that answered a load run (empty for runs that did not say)."""
    run = _raygate_run(run_id, c.RUN_KIND_LOADTEST, "`raygate loadtest --log-mlflow`")
    return set(json.loads(run.data.tags.get(c.TAG_LOAD_MODEL_IDS, "[]")))
