"""`raygate demo`: the whole release playbook on the embedded default — a local Ray, MLflow on
SQLite, the reference agent — with v1 as champion, v2 gated, canaried and promoted, and v3
gated, canaried and rolled back on what live traffic shows (its dense retrieval costs CPU per
request that the offline gates allow, and that makes it slower than its champion under
concurrent load)."""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raygate.constants import ALIAS_CANDIDATE, ALIAS_CHAMPION

NAME = "reference-agent"
NEEDED = ("agents/v1.yaml", "agents/v2.yaml", "agents/v3.yaml", "policies/gates.yaml",
          "policies/rollout-demo.yaml", "serve_configs/canary.yaml")  # fmt: skip


@dataclass
class VersionOutcome:
    version: int
    config: str
    outcome: str
    reason: str
    gates_passed: bool
    release_id: str | None = None
    report: str | None = None


@dataclass
class DemoResult:
    home: str
    aliases: dict[str, int]
    versions: list[VersionOutcome]
    load: dict[str, Any]
    duration_s: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "aliases": self.aliases,
            "versions": [v.__dict__ for v in self.versions],
            "load": self.load,
            "duration_s": round(self.duration_s, 1),
        }


def run_demo(
    home: Path,
    root: Path,
    rate_rps: float = 30.0,
    say: Callable[[str], None] = print,
    on_look=None,
) -> DemoResult:
    """Run the playbook in a fresh MLflow store under `home`; `root` holds agents/,
    policies/ and serve_configs/."""
    started = time.monotonic()
    home.mkdir(parents=True, exist_ok=False)
    os.environ["RAYGATE_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    token = secrets.token_hex(16)
    tokens = home / "api-tokens"
    tokens.write_text(token + "\n")
    tokens.chmod(0o600)
    os.environ["RAYGATE_API_TOKENS_FILE"] = str(tokens)

    import ray
    from ray import serve

    from raygate.cluster import commands_sigterm_kept
    from raygate.testing import free_port

    say("starting a local Ray (4 logical CPUs) with its dashboard")
    with commands_sigterm_kept():
        context = ray.init(num_cpus=4, include_dashboard=True, dashboard_port=free_port(),
                           logging_level="ERROR", log_to_driver=False)  # fmt: skip
    try:
        return _playbook(home, root, rate_rps, token, f"http://{context.dashboard_url}", say,
                         on_look, started)  # fmt: skip
    finally:
        logging.getLogger("ray.serve").setLevel(logging.WARNING)
        serve.shutdown()
        ray.shutdown()


def _playbook(home, root, rate_rps, token, dashboard, say, on_look, started) -> DemoResult:
    from raygate.canary.policy import load_rollout_policy
    from raygate.config import load_agent_config
    from raygate.gates.evaluator import MlflowEvaluator, logged_run_tags
    from raygate.gates.policy import load_policy
    from raygate.loadtest.background import BackgroundLoad
    from raygate.loadtest.transport import Target
    from raygate.loadtest.workload import load_workload
    from raygate.packaging.build import log_agent_model
    from raygate.release import run_release
    from raygate.release_runtime import controller, publish_report, runtime
    from raygate.serving.control import load_serve_config
    from raygate.testing import free_port

    parts = runtime(dashboard, note=lambda text: say(f"  {text}"))
    registry = parts.registry
    evaluator = MlflowEvaluator(registry, load_policy(root / "policies" / "gates.yaml"))
    policy = load_rollout_policy(root / "policies" / "rollout-demo.yaml")
    control = parts.control

    say("v1: build, register, make it champion, evaluate it (the evidence v2 is gated against)")
    v1 = log_agent_model(load_agent_config(root / "agents" / "v1.yaml"))
    version = registry.register(NAME, v1.model_uri, v1.tags).version
    registry.set_alias(NAME, ALIAS_CHAMPION, version, "demo: first champion")
    registry.set_alias(NAME, ALIAS_CANDIDATE, version, "demo: the canary starts as the champion")
    evaluator.evaluate(f"models:/{NAME}/{version}", "smoke")

    port = free_port()
    config = load_serve_config(root / "serve_configs" / "canary.yaml")
    config["http_options"]["port"] = port
    for deployment in config["applications"][0]["deployments"]:
        if deployment["name"] == "router":
            deployment["user_config"]["canary_percent"] = 0
    say(f"serving champion and canary on http://127.0.0.1:{port} (Ray Serve)")
    control.wait_applied(control.up(config), 300)

    target = Target(f"http://127.0.0.1:{port}", token=token)
    prompts = load_workload("dev", None, users=500, seed=0)
    say(f"open-loop load: {rate_rps:g} requests/s from 500 users, through every step below")
    load = BackgroundLoad(target, prompts, rate_rps).start()
    outcomes = []
    try:
        for config_name in ("v2.yaml", "v3.yaml"):
            agent = load_agent_config(root / "agents" / config_name)
            say(f"\n{config_name}: {agent.description}")
            built = log_agent_model(agent)
            ctl = controller(parts, policy, NAME, on_look=on_look)
            result = run_release(built.model_uri, NAME, "smoke", evaluator, registry, ctl,
                                 build_tags=logged_run_tags)  # fmt: skip
            report = None
            if result.release is not None:
                report = publish_report(parts, result.release, ctl.totals, result.gates.decision)
            say(f"  → {result.outcome}: {result.reason}")
            outcomes.append(VersionOutcome(
                result.version or 0, config_name, result.outcome, result.reason,
                result.gates.decision.passed,
                result.release.release_id if result.release else None,
                str(report) if report else None,
            ))  # fmt: skip
    finally:
        load.stop()
    summary = {
        "requests": load.sent,
        "failed": load.sent - load.outcomes["ok"],
        "by_variant": dict(load.by_variant),
        "rate_rps": rate_rps,
        "failures": [{"variant": r.variant, "status": r.status, "error": r.error,
                      "finished_at": r.finished_at} for r in load.failures[:10]],
    }  # fmt: skip
    control.down()
    return DemoResult(str(home), registry.aliases(NAME),
                      [VersionOutcome(1, "v1.yaml", "champion", "the first champion", True),
                       *outcomes], summary, time.monotonic() - started)  # fmt: skip


def demo_home(base: Path) -> Path:
    """A fresh directory for this run's MLflow store and telemetry."""
    return base / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
