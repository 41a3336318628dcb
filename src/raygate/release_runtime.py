"""The playbook's real parts wired together: MLflow registry and release store, the traffic
split (raygate's router through the dashboard's REST API, or a Gateway API HTTPRoute), and the
in-cluster aggregator on the Ray cluster serving it (or Prometheus)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from raygate.canary.actions import Actions, ServeControlAdapter
from raygate.canary.controller import Controller, OnLook
from raygate.canary.policy import RolloutPolicy
from raygate.canary.store import MlflowReleaseStore
from raygate.cluster import join_running_cluster, require_serve
from raygate.errors import ServeError
from raygate.registry.mlflow_registry import MlflowRegistry
from raygate.secrets import get_secret, secret_sources
from raygate.serving.control import ServeControl

ENV_WEBHOOK_URL = "RAYGATE_WEBHOOK_URL"
ENV_WEBHOOK_SECRET = "RAYGATE_WEBHOOK_SECRET"


@dataclass
class Runtime:
    registry: MlflowRegistry
    store: MlflowReleaseStore
    actions: Actions
    control: ServeControl | None  # the Serve app itself (up, status, down); None on a split

    @property
    def spans_clusters(self) -> bool:
        """A gateway split: two Ray clusters, whose metrics only a Prometheus sees together."""
        return self.control is None


def runtime(
    address: str | None = None,
    note=None,
    wait_s: float = 300.0,
    split: Path | None = None,
    model_name: str | None = None,
    needs_canary: bool = False,
) -> Runtime:
    """Registry, store, executor and the split's control: raygate's router at `address`, or
    the HTTPRoute of a `split` file (without joining Ray: commands that only read or send
    commands need none of it). With `model_name`, raygate's app at `address` (each split
    cluster's) must serve that model by its release aliases (and, `needs_canary`, have a
    canary), checked here, before anything is changed."""
    registry = MlflowRegistry()
    control = None
    if split is not None:
        from raygate.serving.gateway import GatewaySplitControl, load_split

        serving = GatewaySplitControl(load_split(split), wait_s, model_name)
        if model_name is not None:
            serving.check_serves()  # ServeError: a cluster serving another model, or none
    else:
        control = ServeControl(address, model_name)
        if model_name is not None:
            status = control.status()  # ServeError: no raygate app, or one serving another model
            if needs_canary and "canary" not in status["deployments"]:
                raise ServeError(
                    f"the raygate application '{status['application']}' at {control.address} "
                    f"serves {model_name} without a canary, which a release needs: deploy a "
                    "config with one (serve_configs/canary.yaml; weight 0 is fine)"
                )
        serving = ServeControlAdapter(control, wait_s)
    actions = Actions(registry, serving, note) if note else Actions(registry, serving)
    return Runtime(registry, MlflowReleaseStore(), actions, control)


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
    if parts.spans_clusters and not prometheus_url:
        from raygate.errors import ConfigError

        raise ConfigError(
            "a gateway split's champion and canary run on two Ray clusters: judge them on a "
            "Prometheus that scrapes both (--prometheus URL or $RAYGATE_PROMETHEUS_URL)"
        )
    if prometheus_url:
        from raygate.canary.prometheus import ENV_PROMETHEUS_TOKEN, PrometheusProvider
        from raygate.secrets import get_secret

        token = get_secret(ENV_PROMETHEUS_TOKEN)
        provider = PrometheusProvider(prometheus_url, model_name, token=token)
        provider.check()
    else:
        from raygate.canary.aggregator import InClusterProvider

        join_running_cluster()
        require_serve()
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
    secret = get_secret(ENV_WEBHOOK_SECRET)
    if not secret:
        raise ConfigError(
            f"{ENV_WEBHOOK_URL} is set but no secret is: notifications are always signed; "
            f"set {secret_sources(ENV_WEBHOOK_SECRET)} to a secret the receiver shares"
        )
    return WebhookNotifier(url, secret)


def publish_report(parts: Runtime, state, totals=None, gates=None) -> Path:
    """Render the release report, keep it with the release (MLflow artifact) and under
    RAYGATE_HOME/reports; returns the local file."""
    from raygate.release_report import ReportInputs, render_release_report
    from raygate.tracking import raygate_home

    candidate, champion = _offline_evidence(parts.registry, state)
    inputs = ReportInputs(
        state, parts.store.looks(state.release_id), totals, gates,
        candidate.metrics if candidate else None, champion.metrics if champion else None,
    )  # fmt: skip
    folder = raygate_home() / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"release_report-{state.release_id}.html"
    path.write_text(render_release_report(inputs), encoding="utf-8")
    parts.store.attach(state.release_id, path)
    return path


def _offline_evidence(registry, state):
    """The eval that gated the candidate, and the champion's eval on the same gold set (the
    one the gates compared with); None for what cannot be found."""
    from raygate.constants import TAG_EVAL_RUN_ID
    from raygate.errors import RaygateError
    from raygate.gates.evidence import load_eval
    from raygate.gates.run import version_eval

    try:
        version = registry.get_version(state.model_name, state.candidate_version)
        run_id = version.tags.get(TAG_EVAL_RUN_ID)
        candidate = load_eval(run_id) if run_id else None
        if candidate is None or state.champion_version is None:
            return candidate, None
        champion = registry.get_version(state.model_name, state.champion_version)
        return candidate, version_eval(champion, candidate.goldset_hash)
    except RaygateError:
        return None, None
