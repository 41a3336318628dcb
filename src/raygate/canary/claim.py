"""One controller per release: the controller driving a release claims it and renews the
claim while it runs, so that a second `raygate canary start` (another terminal, a restarted
pod) refuses instead of driving the same release too (two controllers each ramp, and each
takes the commands the other then never sees)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from typing import Any

from raygate.canary.store import ReleaseStore
from raygate.errors import RaygateError, ReleaseError


class ReleaseDriven(ReleaseError):
    """The release is being driven by another controller, which is still running."""


CLAIM_TTL_S = 30.0  # a claim not renewed for this long is a controller that is gone
RENEW_EVERY_S = 10.0


class ControllerClaim:
    """A context manager holding a release's claim, renewed from a thread (serving changes
    can block the controller for minutes) and given up on exit."""

    def __init__(self, store: ReleaseStore, release_id: str, name: str) -> None:
        self._store, self._release_id, self._name = store, release_id, name
        self._mine = {"host": socket.gethostname(), "pid": os.getpid(), "id": uuid.uuid4().hex}
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew, daemon=True, name="release-claim")

    def __enter__(self) -> ControllerClaim:
        held = self._store.claim_of(self._release_id)
        if held is not None and held.get("id") != self._mine["id"] and not _gone(held):
            raise ReleaseDriven(self._refusal(held))
        self._renew_now()
        self._renewer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._renewer.join(timeout=5)
        with contextlib.suppress(RaygateError):  # the store is down: the claim lapses itself
            held = self._store.claim_of(self._release_id)
            if held is not None and held.get("id") == self._mine["id"]:
                self._store.set_claim(self._release_id, None)

    def _renew(self) -> None:
        while not self._stop.wait(RENEW_EVERY_S):
            # a store that fails is tried again at the next beat (the controller's own calls
            # report it)
            with contextlib.suppress(RaygateError):
                self._renew_now()

    def _renew_now(self) -> None:
        self._store.set_claim(self._release_id, {**self._mine, "renewed_at": time.time()})

    def _refusal(self, held: dict[str, Any]) -> str:
        age = max(0.0, time.time() - float(held.get("renewed_at", 0)))
        name = self._name
        return (
            f"release {self._release_id} of {name} is being driven by another controller "
            f"(pid {held.get('pid')} on {held.get('host')}, seen {age:.0f} s ago); follow it "
            f"with `raygate canary status {name}` and steer it with `raygate canary "
            f"pause|resume|abort {name}`, or stop it first (Ctrl-C leaves the release "
            f"resumable); a controller that died without stopping lets go of the release "
            f"{CLAIM_TTL_S:.0f} s after it was last seen"
        )


def driver_of(store: ReleaseStore, release_id: str) -> dict[str, Any] | None:
    """The claim of the controller driving the release now; None when none does."""
    held = store.claim_of(release_id)
    return None if held is None or _gone(held) else held


def _gone(held: dict[str, Any]) -> bool:
    """Whether the claim's controller has stopped: not renewed within the TTL, or its
    process is no longer running on this host."""
    if time.time() - float(held.get("renewed_at", 0)) > CLAIM_TTL_S:
        return True
    return held.get("host") == socket.gethostname() and not _running(held.get("pid"))


def _running(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: running
        return True
    return True
