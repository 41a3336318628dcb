"""Where telemetry files live: $RAYGATE_TELEMETRY_DIR, or `telemetry/` under RAYGATE_HOME."""

from __future__ import annotations

import os
from pathlib import Path

from raygate.constants import DEFAULT_HOME, ENV_HOME

ENV_TELEMETRY_DIR = "RAYGATE_TELEMETRY_DIR"


def telemetry_dir() -> Path:
    """The folder holding `traces/` and `records/`."""
    explicit = os.environ.get(ENV_TELEMETRY_DIR)
    if explicit:
        return Path(explicit).resolve()
    return Path(os.environ.get(ENV_HOME, DEFAULT_HOME)).resolve() / "telemetry"
