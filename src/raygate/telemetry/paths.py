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


def adopt_telemetry_dir(folder: str | None) -> None:
    """Write this process's telemetry into `folder` (the driver's, for eval actors) where it
    can be made here: on the driver's machine, or a path the nodes share. Elsewhere the node
    keeps its own folder."""
    if folder is None:
        return
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    os.environ[ENV_TELEMETRY_DIR] = folder
