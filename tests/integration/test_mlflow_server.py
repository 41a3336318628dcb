"""The registry through a real `mlflow server` over HTTP (SQLite backend, artifacts proxied by
the server): build → register → alias → load by alias → rollback → load again, with nothing
read from the local disk behind MLflow's back."""

from __future__ import annotations

import pytest

from raygate.config import load_agent_config
from raygate.packaging.build import log_agent_model
from raygate.packaging.loading import load_agent
from tests.integration.conftest import AGENTS

QUERY = "What is the return window for Kitchen products?"


@pytest.fixture
def through_server(mlflow_server, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    yield mlflow_server
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def test_register_alias_load_and_roll_back_through_an_mlflow_server(through_server):
    import mlflow

    from raygate.registry.mlflow_registry import MlflowRegistry

    registry = MlflowRegistry()
    assert mlflow.get_tracking_uri() == through_server
    for config in ("v1.yaml", "v2.yaml"):
        built = log_agent_model(load_agent_config(AGENTS / config))
        version = registry.register("served-agent", built.model_uri, built.tags)
        registry.set_alias("served-agent", "champion", version.version, f"{config} is best")
    loaded = load_agent("models:/served-agent@champion", registry)
    assert loaded.version.version == 2
    answer = loaded.predict([{"query": QUERY}]).iloc[0]
    assert answer["model_id"] == "served-agent@2" and answer["answer"] == "60 days"
    change = registry.rollback("served-agent", "champion", "v2 regressed")
    assert (change.action, change.version, change.previous) == ("rollback", 1, 2)
    again = load_agent("models:/served-agent@champion", registry)
    assert again.predict([{"query": QUERY}]).iloc[0]["model_id"] == "served-agent@1"
    assert registry.rollback("served-agent", "champion").action == "noop"
    history = registry.alias_history("served-agent", "champion")
    assert [(e.version, e.action) for e in history] == [(1, "set"), (2, "set"), (1, "rollback")]
    artifacts = mlflow.artifacts.list_artifacts(artifact_uri=loaded.version.source)
    assert artifacts  # the model's files are listed through the server's artifact proxy
