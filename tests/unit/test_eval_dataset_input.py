"""The eval's dataset input when two evals of one gold set start at once: MLflow looks the
dataset up, then inserts it, so the later of two racing inserts meets a unique constraint
(seen with three `raygate eval` processes on one SQLite store); that one is retried."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.exceptions import MlflowException

from raygate.evaluation import runner

RACED = "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name"


def test_a_dataset_another_eval_inserted_first_is_logged_again(monkeypatch):
    calls = []

    def log_input(dataset, context, model):
        calls.append(dataset)
        if len(calls) == 1:
            raise MlflowException(RACED)

    monkeypatch.setattr(mlflow, "log_input", log_input)
    runner._log_input("gold", None)
    assert calls == ["gold", "gold"]


def test_any_other_mlflow_error_is_not_retried(monkeypatch):
    calls = []

    def log_input(dataset, context, model):
        calls.append(dataset)
        raise MlflowException("RESOURCE_DOES_NOT_EXIST: run not found")

    monkeypatch.setattr(mlflow, "log_input", log_input)
    with pytest.raises(MlflowException, match="run not found"):
        runner._log_input("gold", None)
    assert calls == ["gold"]
