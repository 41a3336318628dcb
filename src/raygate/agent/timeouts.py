"""Calls that may outlive their budget: run in a daemon thread, stop waiting on time, and
bound how many abandoned calls may still be running in this process."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TypeVar

from raygate.errors import GeneratorError

T = TypeVar("T")

# A call that timed out keeps its thread until the engine returns; more than this many such
# threads at once means the engine is stuck, and new calls fail fast instead of piling up.
MAX_ABANDONED_CALLS = 8
_abandoned = 0
_lock = threading.Lock()


class StepTimeout(Exception):
    """A call outlived its budget."""


def abandoned_calls() -> int:
    """Timed-out calls whose threads are still running."""
    return _abandoned


def call_with_timeout(fn: Callable[[], T], timeout_s: float) -> T:
    """fn() in a daemon thread; after timeout_s stop waiting (its late result is dropped)."""
    global _abandoned
    with _lock:
        if _abandoned >= MAX_ABANDONED_CALLS:
            raise GeneratorError(
                f"{_abandoned} timed-out calls are still running; not starting another until "
                "they finish (the engine looks stuck)"
            )
    box: queue.Queue = queue.Queue(maxsize=1)
    state = {"abandoned": False}

    def target() -> None:
        global _abandoned
        try:
            box.put((True, fn()))
        except BaseException as exc:  # handed to the caller below
            box.put((False, exc))
        finally:
            with _lock:
                if state["abandoned"]:
                    _abandoned -= 1

    threading.Thread(target=target, daemon=True).start()
    try:
        ok, value = box.get(timeout=max(timeout_s, 0.0))
    except queue.Empty:
        with _lock:
            if box.empty():  # still running: count it until its thread ends
                state["abandoned"] = True
                _abandoned += 1
        raise StepTimeout(f"no answer within {timeout_s:.2f} s") from None
    if not ok:
        raise value
    return value
