"""The model calls a replica has running, so that its health check can tell a model stuck in
a call (an API called without a timeout, holding a lock every call needs) from a slow one."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator


class CallWatch:
    """Counts model calls in flight and when the model last answered (a call returned, or a
    stream sent a piece). A call whose caller went away still runs on its thread, and counts
    until it returns."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._running: dict[int, float] = {}  # call → when it started
        self._keys = itertools.count()
        self._answered_at = clock()

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        """Around one model call, on the thread that makes it."""
        key = next(self._keys)
        with self._lock:
            self._running[key] = self._clock()
        try:
            yield
        finally:  # raising is an answer too: the model is not stuck
            with self._lock:
                del self._running[key]
                self._answered_at = self._clock()

    def progressed(self) -> None:
        """A running call gave part of its answer (a streamed piece)."""
        with self._lock:
            self._answered_at = self._clock()

    def stuck(self, after_s: float) -> str | None:
        """Why the model is stuck, when calls run and none answered for `after_s`; else None."""
        with self._lock:
            if not self._running:
                return None
            now, oldest = self._clock(), min(self._running.values())
            quiet_s, running = now - max(oldest, self._answered_at), len(self._running)
        if quiet_s < after_s:
            return None
        return (
            f"the model has answered nothing for {quiet_s:.0f} s while {running} call(s) of it "
            f"run, the oldest for {now - oldest:.0f} s (stuck_after_s is {after_s:g}): a call "
            "stuck in the model (an API called without a timeout) holds every call after it"
        )
