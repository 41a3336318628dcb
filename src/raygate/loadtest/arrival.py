"""When requests are sent: open loop at a rate (constant, Poisson, gamma with burstiness, an
optional linear ramp-up), or closed loop at a concurrency. Seeded and pure."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from raygate.schemas import StrictModel

Process = Literal["constant", "poisson", "gamma"]


class ArrivalConfig(StrictModel):
    """Open loop (rate) or closed loop (concurrency), for a duration."""

    rate: float | None = Field(None, gt=0, description="Open loop: requests per second.")
    concurrency: int | None = Field(None, ge=1, description="Closed loop: requests in flight.")
    duration_s: float = Field(gt=0, le=86400, description="How long to send, in seconds.")
    process: Process = Field("poisson", description="Open loop: gaps between sends.")
    burstiness: float = Field(
        1.0, gt=0, description="Gamma shape: < 1 burstier than Poisson, > 1 more regular."
    )
    ramp_up_s: float = Field(0.0, ge=0, description="Open loop: rate rises linearly from 0.")
    seed: int = Field(0, description="Seed of the arrival times and the prompt order.")

    @model_validator(mode="after")
    def _one_mode(self) -> ArrivalConfig:
        if (self.rate is None) == (self.concurrency is None):
            raise ValueError(
                "give exactly one of rate (--rate, open loop) or concurrency (--concurrency, "
                "closed loop)"
            )
        if self.ramp_up_s > self.duration_s:
            raise ValueError("ramp_up_s must not exceed duration_s")
        if self.ramp_up_s and self.concurrency is not None:
            raise ValueError(
                "a ramp-up shapes an open-loop rate; with a concurrency (closed loop) drop it"
            )
        return self

    @property
    def open_loop(self) -> bool:
        return self.rate is not None


def send_times(config: ArrivalConfig) -> np.ndarray:
    """Scheduled send offsets (seconds from the start, ascending) of an open-loop run.

    Gaps are drawn in "operational time" at rate 1 and mapped through the cumulative rate
    Λ(t) (rate·t, or rate·t²/(2·ramp) during a ramp), so a ramp thins the same process.
    """
    if config.rate is None:
        raise ValueError("send_times needs an open-loop config (rate)")
    rng = np.random.default_rng(config.seed)
    ramp, rate, duration = config.ramp_up_s, config.rate, config.duration_s
    total = rate * (duration - ramp / 2)  # Λ(duration): expected number of requests
    count = int(total * 1.2 + 10 * np.sqrt(total) + 10)
    if config.process == "constant":
        gaps = np.ones(count)
    elif config.process == "poisson":
        gaps = rng.exponential(1.0, count)
    else:
        gaps = rng.gamma(config.burstiness, 1.0 / config.burstiness, count)
    operational = np.cumsum(gaps)
    if config.process == "constant":
        operational -= 1.0  # the first request goes at once
    operational = operational[operational < total]
    return _inverse_cumulative_rate(operational, rate, ramp)


def _inverse_cumulative_rate(lam: np.ndarray, rate: float, ramp: float) -> np.ndarray:
    if ramp <= 0:
        return lam / rate
    in_ramp = lam < rate * ramp / 2
    return np.where(
        in_ramp,
        np.sqrt(2 * ramp * np.maximum(lam, 0) / rate),
        ramp + (lam - rate * ramp / 2) / rate,
    )
