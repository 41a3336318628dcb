"""Log a load run to MLflow: params, metrics with units, the summary and the results table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from raygate.constants import RUN_KIND_LOADTEST, TAG_LOAD_MODEL_IDS, TAG_RUN_KIND
from raygate.loadtest.runner import RESULTS_FILE, SUMMARY_FILE, LoadRun
from raygate.tracking import configure_mlflow


def log_load_run(run: LoadRun, params: dict[str, Any], out_dir: Path) -> str:
    """One MLflow run per load test; metric names are `load.<figure>`; returns the run id."""
    import mlflow

    configure_mlflow()
    metrics = {
        f"load.{key}": float(value)
        for key, value in run.summary.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    slo = run.summary.get("slo")
    with mlflow.start_run(run_name=f"loadtest-{params.get('mode', '')}") as active:
        mlflow.set_tag(TAG_RUN_KIND, RUN_KIND_LOADTEST)
        answered = sorted({m for ids in run.summary.get("model_ids_by_variant", {}).values()
                           for m in ids})  # fmt: skip
        mlflow.set_tag(TAG_LOAD_MODEL_IDS, json.dumps(answered))
        mlflow.log_params({k: v for k, v in params.items() if v is not None})
        mlflow.log_metrics(metrics)
        if slo is not None:
            mlflow.log_metric("load.slo_passed", float(slo["passed"]))
        mlflow.log_artifact(str(out_dir / SUMMARY_FILE))
        mlflow.log_artifact(str(out_dir / RESULTS_FILE))
    return active.info.run_id
