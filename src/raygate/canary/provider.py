"""The metric-provider protocol: per-variant aggregates of live traffic over a window of time."""

from __future__ import annotations

from typing import Protocol

from raygate.canary.observations import WindowPair


class MetricsProvider(Protocol):
    """Where the controller reads what champion and canary did."""

    def window(self, start_ts: float, end_ts: float) -> WindowPair:
        """Both variants' aggregates over [start_ts, end_ts) (Unix seconds); MetricsError when
        the provider cannot tell."""
        ...

    def settled_until(self, now: float) -> float:
        """The latest end a window may have at `now` and be complete (observations still in
        flight from the routers are younger than this)."""
        ...

    def boundary_after(self, ts: float) -> float:
        """The first window boundary at or after `ts` (windows start on boundaries)."""
        ...
