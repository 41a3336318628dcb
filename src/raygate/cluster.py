"""Joining Ray from raygate's commands: $RAY_ADDRESS's cluster or a local one, quietly."""

from __future__ import annotations

import logging
import os


def ensure_ray() -> None:
    """Join $RAY_ADDRESS's cluster, or start a local one, unless Ray is already up."""
    import ray

    if not ray.is_initialized():
        ray.init(
            address=os.environ.get("RAY_ADDRESS"),
            include_dashboard=False,
            logging_level="WARNING",
            configure_logging=True,
        )


def quiet_ray_data() -> None:
    """No progress bars or per-dataset INFO lines: raygate draws its own progress."""
    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    # Ray Data warns on every first run that the bars are off; that is the point here.
    logging.getLogger("ray.data._internal.progress").addFilter(_not_bars_disabled)


def _not_bars_disabled(record: logging.LogRecord) -> bool:
    return "Progress bars disabled" not in record.getMessage()
