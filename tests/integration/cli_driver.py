"""What the driver scripts (multinode_driver, haproxy_driver) share: agents/v1.yaml registered
in the driver's own MLflow store, and running `raygate` as a user would, in a subprocess,
failing with its stderr's tail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def raygate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "raygate.cli.main", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"raygate {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done


def register_v1(name: str) -> int:
    """agents/v1.yaml logged and registered as `name`, both champion and candidate (in the
    store $RAYGATE_HOME names); its version."""
    from raygate.config import load_agent_config
    from raygate.packaging.build import log_agent_model
    from raygate.registry.mlflow_registry import MlflowRegistry

    registry = MlflowRegistry()
    built = log_agent_model(load_agent_config(ROOT / "agents" / "v1.yaml"))
    version = registry.register(name, built.model_uri, built.tags).version
    for alias in ("champion", "candidate"):
        registry.set_alias(name, alias, version)
    return version
