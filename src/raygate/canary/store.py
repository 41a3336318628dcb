"""Where releases persist: one MLflow run per release (its state in a tag, each look's
measurements as metrics and a JSON artifact), and the commands a person sends it."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any, Protocol

from raygate.canary.release_state import Command, ReleaseState
from raygate.constants import TAG_RUN_KIND as TAG_KIND
from raygate.errors import ReleaseError

RELEASE_EXPERIMENT = "raygate-releases"
KIND_RELEASE = "release"
TAG_MODEL = "raygate.release.model"
TAG_CANDIDATE = "raygate.release.candidate_version"
TAG_PHASE = "raygate.release.phase"
TAG_STATE = "raygate.release.state"
TAG_COMMAND = "raygate.release.command"
TAG_CLAIM = "raygate.release.controller"  # which controller drives it (see canary/claim.py)


class ReleaseStore(Protocol):
    def create(self, model_name: str, candidate_version: int, params: dict[str, Any]) -> str:
        """A new release record; returns its id."""
        ...

    def load(self, release_id: str) -> ReleaseState | None: ...

    def save(self, state: ReleaseState) -> None: ...

    def active(self, model_name: str) -> ReleaseState | None:
        """The release of this model that has not ended, if any."""
        ...

    def latest(self, model_name: str) -> ReleaseState | None: ...

    def log_look(self, state: ReleaseState, look: dict[str, Any]) -> None: ...

    def looks(self, release_id: str) -> list[dict[str, Any]]: ...

    def send(self, release_id: str, command: Command) -> None: ...

    def take_command(self, release_id: str) -> Command | None:
        """The pending command, cleared as it is read."""
        ...

    def attach(self, release_id: str, path: Path) -> None:
        """Keep a file (the release report) with the release."""
        ...

    def claim_of(self, release_id: str) -> dict[str, Any] | None:
        """Which controller drives the release (host, pid, id, renewed_at), if one does."""
        ...

    def set_claim(self, release_id: str, claim: dict[str, Any] | None) -> None: ...


def _mlflow_errors(method):
    """MLflow's errors (a locked database, a server down) as one ReleaseError naming the call."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        from mlflow.exceptions import MlflowException

        try:
            return method(self, *args, **kwargs)
        except MlflowException as exc:
            raise ReleaseError(
                f"the release store (MLflow) failed in {method.__name__}: {exc.message}"
            ) from None

    return wrapper


class MlflowReleaseStore:
    """ReleaseStore on raygate's MLflow tracking store (experiment `raygate-releases`)."""

    def __init__(self) -> None:
        import mlflow
        from mlflow import MlflowClient

        from raygate.tracking import configure_mlflow, raygate_home

        uri = configure_mlflow()
        self._client = MlflowClient(tracking_uri=uri)
        experiment = mlflow.get_experiment_by_name(RELEASE_EXPERIMENT)
        if experiment is None:
            location = None
            if uri.startswith("sqlite:///"):
                location = (raygate_home() / "artifacts").as_uri()
            self._experiment_id = self._client.create_experiment(RELEASE_EXPERIMENT, location)
        else:
            self._experiment_id = experiment.experiment_id

    @_mlflow_errors
    def create(self, model_name: str, candidate_version: int, params: dict[str, Any]) -> str:
        run = self._client.create_run(
            self._experiment_id,
            run_name=f"release {model_name} v{candidate_version}",
            tags={
                TAG_KIND: KIND_RELEASE,
                TAG_MODEL: model_name,
                TAG_CANDIDATE: str(candidate_version),
                TAG_PHASE: "running",
            },
        )
        run_id = run.info.run_id
        for key, value in params.items():
            self._client.log_param(run_id, key, value)
        return run_id

    @_mlflow_errors
    def load(self, release_id: str) -> ReleaseState | None:
        raw = self._client.get_run(release_id).data.tags.get(TAG_STATE)
        return ReleaseState.model_validate_json(raw) if raw else None

    @_mlflow_errors
    def save(self, state: ReleaseState) -> None:
        run_id = state.release_id
        self._client.set_tag(run_id, TAG_STATE, state.model_dump_json())
        self._client.set_tag(run_id, TAG_PHASE, state.phase)
        if state.final:
            self._client.set_terminated(
                run_id, "FINISHED" if state.phase != "aborted" else "KILLED"
            )

    def _search(self, model_name: str, where: str = "") -> list:
        query = f"tags.`{TAG_KIND}` = '{KIND_RELEASE}' and tags.`{TAG_MODEL}` = '{model_name}'"
        return self._client.search_runs(
            [self._experiment_id], query + where, order_by=["attributes.start_time DESC"],
            max_results=20,
        )  # fmt: skip

    @_mlflow_errors
    def active(self, model_name: str) -> ReleaseState | None:
        for run in self._search(model_name):
            state = self.load(run.info.run_id)
            if state is not None and not state.final:
                return state
        return None

    @_mlflow_errors
    def latest(self, model_name: str) -> ReleaseState | None:
        for run in self._search(model_name):
            state = self.load(run.info.run_id)
            if state is not None:
                return state
        return None

    @_mlflow_errors
    def log_look(self, state: ReleaseState, look: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        now_ms = int(time.time() * 1000)
        metrics = [
            Metric(key, float(value), now_ms, state.looks)
            for key, value in _look_metrics(look).items()
        ]
        self._client.log_batch(state.release_id, metrics=metrics)
        self._client.log_text(
            state.release_id, json.dumps(look, indent=1), f"looks/look-{state.looks:04d}.json"
        )

    @_mlflow_errors
    def looks(self, release_id: str) -> list[dict[str, Any]]:
        import mlflow

        files = sorted(a.path for a in self._client.list_artifacts(release_id, "looks"))
        uri = f"runs:/{release_id}"
        return [json.loads(mlflow.artifacts.load_text(f"{uri}/{path}")) for path in files]

    @_mlflow_errors
    def send(self, release_id: str, command: Command) -> None:
        self._client.set_tag(release_id, TAG_COMMAND, command)

    @_mlflow_errors
    def take_command(self, release_id: str) -> Command | None:
        command = self._client.get_run(release_id).data.tags.get(TAG_COMMAND)
        if command:
            self._client.delete_tag(release_id, TAG_COMMAND)
        return command or None

    @_mlflow_errors
    def attach(self, release_id: str, path: Path) -> None:
        self._client.log_artifact(release_id, str(path))

    @_mlflow_errors
    def claim_of(self, release_id: str) -> dict[str, Any] | None:
        raw = self._client.get_run(release_id).data.tags.get(TAG_CLAIM)
        return json.loads(raw) if raw else None

    @_mlflow_errors
    def set_claim(self, release_id: str, claim: dict[str, Any] | None) -> None:
        if claim is None:
            self._client.delete_tag(release_id, TAG_CLAIM)
        else:
            self._client.set_tag(release_id, TAG_CLAIM, json.dumps(claim))


def _look_metrics(look: dict[str, Any]) -> dict[str, float]:
    """The look's figures as MLflow metrics (finite numbers only: a missing figure stays
    missing, never 0)."""
    metrics = {
        "canary_requests": look.get("canary_requests"),
        "champion_requests": look.get("champion_requests"),
        "weight_percent": look.get("weight_percent"),
    }
    for verdict in look.get("metrics", []):
        evidence = verdict["evidence"]
        for key in ("canary", "champion", "ratio", "ratio_lower", "ratio_upper"):
            metrics[f"{verdict['metric']}.{key}"] = evidence.get(key)
    return {
        k: v for k, v in metrics.items() if isinstance(v, int | float) and v == v and abs(v) < 1e300
    }
