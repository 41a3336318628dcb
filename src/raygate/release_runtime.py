"""The playbook's real parts wired together: MLflow registry and release store, the Serve app
through the dashboard's REST API, and the in-cluster aggregator on the Ray cluster serving it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from raygate.canary.actions import Actions, ServeControlAdapter
from raygate.canary.controller import Controller, OnLook
from raygate.canary.policy import RolloutPolicy
from raygate.canary.store import MlflowReleaseStore
from raygate.errors import ClusterError
from raygate.registry.mlflow_registry import MlflowRegistry

ENV_WEBHOOK_URL = "RAYGATE_WEBHOOK_URL"
ENV_WEBHOOK_SECRET = "RAYGATE_WEBHOOK_SECRET"


def join_cluster() -> None:
    """Connect to the running Ray cluster ($RAY_ADDRESS, else the local one `ray start` or
    `raygate demo` started): the canary is judged where it is served."""
    import ray

    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS") or "auto"
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise ClusterError(
            f"cannot join the Ray cluster serving the canary (RAY_ADDRESS={address!r}: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); start serving "
            "with `raygate serve up CONFIG` on a running cluster, or set RAY_ADDRESS"
        ) from None


@dataclass
class Runtime:
    registry: MlflowRegistry
    store: MlflowReleaseStore
    actions: Actions


def runtime(address: str | None = None, note=None, wait_s: float = 300.0) -> Runtime:
    """Registry, store and executor (without joining Ray: commands that only read or send
    commands need none of it)."""
    from raygate.serving.control import ServeControl

    registry = MlflowRegistry()
    serving = ServeControlAdapter(ServeControl(address), wait_s)
    actions = Actions(registry, serving, note) if note else Actions(registry, serving)
    return Runtime(registry, MlflowReleaseStore(), actions)


def controller(
    parts: Runtime,
    policy: RolloutPolicy,
    model_name: str,
    on_look: OnLook | None = None,
    prometheus_url: str | None = None,
) -> Controller:
    """A controller of `model_name`'s releases judging on Prometheus at `prometheus_url`, else
    on the in-cluster aggregator (this process then joins the cluster); notifying
    $RAYGATE_WEBHOOK_URL of its steps and ending when that is set."""
    if prometheus_url:
        from raygate.canary.prometheus import PrometheusProvider

        provider = PrometheusProvider(prometheus_url)
    else:
        from raygate.canary.aggregator import InClusterProvider

        join_cluster()
        provider = InClusterProvider(model_name)
    return Controller(policy, provider, parts.actions, parts.store, on_look=on_look,
                      notify=webhook_notifier())  # fmt: skip


def webhook_notifier():
    """A WebhookNotifier for $RAYGATE_WEBHOOK_URL signed with $RAYGATE_WEBHOOK_SECRET, or
    None when no URL is set; a URL without a secret is a ConfigError (unsigned is refused)."""
    from raygate.canary.webhooks import WebhookNotifier
    from raygate.errors import ConfigError

    url = os.environ.get(ENV_WEBHOOK_URL)
    if not url:
        return None
    secret = os.environ.get(ENV_WEBHOOK_SECRET)
    if not secret:
        raise ConfigError(
            f"{ENV_WEBHOOK_URL} is set but {ENV_WEBHOOK_SECRET} is not: notifications are "
            "always signed; set a secret the receiver shares"
        )
    return WebhookNotifier(url, secret)


def publish_report(parts: Runtime, state, totals=None, gates=None) -> Path:
    """Render the release report, keep it with the release (MLflow artifact) and under
    RAYGATE_HOME/reports; returns the local file."""
    from raygate.release_report import ReportInputs, render_release_report
    from raygate.tracking import raygate_home

    candidate = _eval_metrics(parts.registry, state.model_name, state.candidate_version, None)
    hash_ = candidate[1] if candidate else None
    champion = _eval_metrics(parts.registry, state.model_name, state.champion_version, hash_)
    inputs = ReportInputs(
        state, parts.store.looks(state.release_id), totals, gates,
        candidate[0] if candidate else None, champion[0] if champion else None,
    )  # fmt: skip
    folder = raygate_home() / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"release_report-{state.release_id}.html"
    path.write_text(render_release_report(inputs), encoding="utf-8")
    parts.store.attach(state.release_id, path)
    return path


def _eval_metrics(registry, name: str, version: int | None, goldset_hash: str | None):
    """(metrics, gold-set hash) of the eval that gated the version, else of its newest eval
    on the gold set with this hash; None when there is none."""
    from raygate.constants import TAG_EVAL_RUN_ID
    from raygate.errors import RaygateError
    from raygate.gates.evidence import find_eval, load_eval

    if version is None:
        return None
    try:
        found = registry.get_version(name, version)
        run_id = found.tags.get(TAG_EVAL_RUN_ID)
        evidence = load_eval(run_id) if run_id else None
        if evidence is None and goldset_hash:
            evidence = find_eval(found.model_id, goldset_hash)
    except RaygateError:
        return None
    return (evidence.metrics, evidence.goldset_hash) if evidence else None
