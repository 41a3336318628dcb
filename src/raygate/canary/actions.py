"""The release's side effects in one place: set the canary's weight, promote by flipping
`champion`, roll back. Every action is idempotent (a repeat changes nothing), so a
controller that died half-way through one simply runs it again."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from functools import partial
from typing import Protocol

from raygate.constants import ALIAS_CANDIDATE, ALIAS_CHAMPION
from raygate.errors import RaygateError, UnservableVersionError
from raygate.registry.protocol import ModelRegistry

TAG_OUTCOME = "raygate.release.outcome"  # promoted | rolled_back | aborted
TAG_REASON = "raygate.release.reason"
TAG_REPLACED_BY = "raygate.replaced_by"

log = logging.getLogger("raygate.release")


class ServingControl(Protocol):
    """What a release asks of serving; each call returns once every replica applied it."""

    def set_weight(self, percent: float) -> None: ...

    def refresh(self, variant: str) -> None:
        """Make the variant's replicas resolve their alias again (after a flip)."""
        ...


class ServeControlAdapter:
    """ServingControl on raygate's Serve app (serving.control.ServeControl)."""

    def __init__(self, control, timeout_s: float = 300.0) -> None:
        self._control, self._timeout_s = control, timeout_s

    def set_weight(self, percent: float) -> None:
        self._control.wait_applied(self._control.set_weight(percent), self._timeout_s)

    def refresh(self, variant: str) -> None:
        change_id = self._control.refresh(variant)
        status = self._control.wait_applied(change_id, self._timeout_s)
        unchecked = self._control.check_loaded(status, variant, change_id)
        if unchecked:
            log.warning(unchecked)


class Actions:
    """The executor: each method logs what it does through `note`."""

    def __init__(
        self,
        registry: ModelRegistry,
        serving: ServingControl,
        note: Callable[[str], None] = log.info,
    ) -> None:
        self.registry, self.serving, self._note = registry, serving, note

    def start(self, name: str, candidate: int, weight_percent: float) -> None:
        """Point `candidate` at the version, make the canary serve it, give it its weight."""
        self.registry.set_alias(name, ALIAS_CANDIDATE, candidate, "canary started")
        self.serving.set_weight(0.0)  # no traffic to the canary while it changes version
        self.serving.refresh("canary")
        self._note(f"canary serves {name}@{candidate}")
        self.set_weight(weight_percent)

    def set_weight(self, percent: float) -> None:
        self.serving.set_weight(percent)
        self._note(f"canary weight {percent:g} %")

    def promote(self, name: str, candidate: int, reason: str) -> None:
        """champion → the candidate (a no-op if it already is), the champion deployment rolls
        to it, the canary gets no traffic; the versions are tagged."""
        change = self.registry.set_alias(name, ALIAS_CHAMPION, candidate, reason)
        before = f"was v{change.previous}" if change.previous is not None else "no champion before"
        self._note(f"champion → v{candidate} ({change.action}; {before})")
        self._refresh_champion_or_undo(
            change, partial(self.registry.rollback, name, ALIAS_CHAMPION)
        )
        self.serving.set_weight(0.0)
        self.registry.tag_version(name, candidate, {TAG_OUTCOME: "promoted", TAG_REASON: reason})
        if change.previous is not None and change.previous != candidate:
            self.registry.tag_version(name, change.previous, {TAG_REPLACED_BY: str(candidate)})

    def rollback(
        self,
        name: str,
        candidate: int,
        champion_before: int | None,
        reason: str,
        outcome: str = "rolled_back",
    ) -> None:
        """The canary gets no traffic; if the release had made the candidate champion,
        champion goes back to the version before it; the candidate is tagged with the outcome
        and the reason."""
        self.serving.set_weight(0.0)
        champion = self.registry.aliases(name).get(ALIAS_CHAMPION)
        if champion == candidate and champion_before not in (None, candidate):
            change = self.registry.rollback(name, ALIAS_CHAMPION, reason)
            self._note(f"champion → v{change.version} ({change.action})")
            self.serving.refresh("champion")
        self.registry.tag_version(name, candidate, {TAG_OUTCOME: outcome, TAG_REASON: reason})
        self._note(f"v{candidate} {outcome.replace('_', ' ')}: {reason}")

    def rollback_champion(self, name: str, reason: str):
        """Outside a release: the canary gets no traffic, champion returns to the version
        before its last move (a no-op right after a rollback), the champion deployment follows."""
        self.serving.set_weight(0.0)
        change = self.registry.rollback(name, ALIAS_CHAMPION, reason)
        if change.action != "noop":
            undo = partial(self.registry.set_alias, name, ALIAS_CHAMPION, change.previous)
            self._refresh_champion_or_undo(change, undo)
        self._note(f"champion → v{change.version} ({change.action})")
        return change

    def _refresh_champion_or_undo(self, change, undo: Callable[[str], object]) -> None:
        """The champion deployment rolls to the alias's new version; if its replicas cannot
        load it (they keep serving the one before), `undo(reason)` moves the alias back to
        that version, so that `champion` always names what serves."""
        try:
            self.serving.refresh("champion")
        except UnservableVersionError as exc:
            if change.action == "noop" or change.previous is None:
                raise
            undo(f"v{change.version} could not be served: {exc}")
            with contextlib.suppress(RaygateError):  # clears the replicas' load error
                self.serving.refresh("champion")
            self._note(f"champion → v{change.previous} again: v{change.version} cannot serve")
            raise UnservableVersionError(
                f"v{change.version} is not champion: {exc}; champion stays v{change.previous}"
            ) from None
