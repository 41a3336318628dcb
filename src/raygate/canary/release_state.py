"""A release's persisted state: phase, step, what was applied, and the commands a person sent;
small enough to live in one MLflow tag, so a restarted controller resumes from it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from pydantic import Field

from raygate.canary.steps import RolloutState
from raygate.schemas import StrictModel

Phase = Literal["running", "promoting", "promoted", "rolling_back", "rolled_back", "halted",
                "aborted"]  # fmt: skip
FINAL_PHASES = frozenset({"promoted", "rolled_back", "halted", "aborted"})
Command = Literal["pause", "resume", "abort", "promote", "rollback"]


class ReleaseState(StrictModel):
    """Where one canary release stands. Phases `promoting` and `rolling_back` are written
    before their actions run: a controller that dies inside one finishes it on restart (each
    action is idempotent, so nothing happens twice)."""

    release_id: str = Field(description="The MLflow run holding this release.")
    model_name: str = Field(description="Registered model name.")
    candidate_version: int = Field(ge=1, description="The version under canary.")
    champion_version: int | None = Field(description="The champion when the release began.")
    phase: Phase = Field("running", description="Where the release stands.")
    paused: bool = Field(False, description="A person paused the ramp; no looks are taken.")
    started_at: float = Field(description="When judging began, Unix seconds.")
    judged_until: float = Field(description="Traffic up to here (Unix seconds) was judged.")
    weight_percent: float = Field(0.0, description="Canary weight last applied, in %.")
    rollout: dict[str, float | int | bool] = Field(description="The step logic's state.")
    looks: int = Field(0, ge=0, description="Looks taken.")
    reason: str = Field("", description="Why the release ended (or its last decision).")
    ended_at: float | None = Field(None, description="When it ended, Unix seconds.")

    @property
    def final(self) -> bool:
        return self.phase in FINAL_PHASES

    def rollout_state(self) -> RolloutState:
        return RolloutState(**self.rollout)

    def with_rollout(self, rollout: RolloutState, **changes) -> ReleaseState:
        return self.model_copy(update={"rollout": asdict(rollout), **changes})
