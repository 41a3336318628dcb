"""A small copy of a raygate Serve config for tests and benchmarks: another registered model,
another port, fixed small replicas, chosen variants and router settings."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from raygate.serving.settings import ROUTER_DEPLOYMENT, restrict_to_variants


def small_app_config(
    config: dict[str, Any],
    model_name: str,
    port: int,
    *,
    variants: Sequence[str] = ("champion", "canary"),
    router: dict[str, Any] | None = None,
    replicas: dict[str, int] | None = None,
    model_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A copy of `config` (one raygate app, e.g. serve_configs/canary.yaml) serving
    `model_name` on `port`: only `variants`, each with `replicas[variant]` replicas (default
    1) and no autoscaling, the router's user_config updated with `router`, and
    `model_options` (e.g. ray_actor_options; a user_config updates theirs) set on each model
    deployment. Replicas being stopped check for unfinished requests every 0.2 s instead of
    Serve's 2 s: they still drain, but a test's teardown or rollout waits no longer than the
    draining."""
    config = copy.deepcopy(config)
    config["http_options"]["port"] = port
    (app,) = config["applications"]
    app["args"]["model_name"] = model_name
    restrict_to_variants(app, variants)
    for deployment in app["deployments"]:
        deployment.setdefault("graceful_shutdown_wait_loop_s", 0.2)
        settings = deployment.setdefault("user_config", {})
        if deployment["name"] == ROUTER_DEPLOYMENT:
            settings.update(router or {})
            continue
        original = settings.get("model_uri", "")
        alias = original.rsplit("@", 1)[1] if "@" in original else None
        if alias:
            settings["model_uri"] = f"models:/{model_name}@{alias}"
        deployment.pop("autoscaling_config", None)
        deployment["num_replicas"] = (replicas or {}).get(deployment["name"], 1)
        options = copy.deepcopy(model_options or {})
        settings.update(options.pop("user_config", {}))
        deployment.update(options)
    return config
