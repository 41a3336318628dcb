"""Model calls under a deadline: each runs on a thread of its own, so a call stuck in the
model's code (an API called without a timeout) fails its rows instead of stalling the eval."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

ROW_TIMEOUT_S = 60.0  # seconds a row may take by default: the reference agent's own deadline
STUCK_AFTER = 3  # calls in a row with no answer before a worker's model is taken as stuck


class ModelTimeout(Exception):
    """A model call gave no answer within its deadline (it may still be running)."""


class ModelStuck(Exception):
    """A call not made: the model's earlier calls on this worker are stuck."""


class Deadlines:
    """Calls a model within `row_timeout_s` a row. A call past its deadline is left running
    (a thread cannot be stopped) and its rows fail. After STUCK_AFTER calls in a row timed
    out, while one of them still runs, the model is stuck (a lock or connection its stuck
    calls hold): later calls fail at once, not asked, until the stuck calls return."""

    def __init__(self, row_timeout_s: float) -> None:
        self.row_timeout_s = row_timeout_s
        self._timed_out: list[threading.Thread] = []  # calls past their deadline, still running
        self._timeouts_in_a_row = 0

    def call(self, fn: Callable[[], T], rows: int) -> T:
        """fn()'s result, or ModelTimeout when it gives none within the deadline of `rows`
        rows, or ModelStuck (fn not called) when the model is stuck."""
        self._check_not_stuck()
        outcome: dict[str, object] = {}
        context = contextvars.copy_context()  # the caller's trace context, for the model's spans

        def run() -> None:
            try:
                outcome["value"] = context.run(fn)
            except BaseException as exc:  # handed to the caller, who decides
                outcome["error"] = exc

        thread = threading.Thread(target=run, name="raygate-model-call", daemon=True)
        thread.start()
        deadline = self.row_timeout_s * rows
        thread.join(deadline)
        if thread.is_alive():
            self._timed_out.append(thread)
            self._timeouts_in_a_row += 1
            batch = f" for {rows} rows ({self.row_timeout_s:g} s a row)" if rows > 1 else ""
            raise ModelTimeout(
                f"the model gave no answer within {deadline:g} s{batch}, the eval's row timeout"
            )
        self._timeouts_in_a_row = 0
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["value"]  # type: ignore[return-value]

    def _check_not_stuck(self) -> None:
        self._timed_out = [thread for thread in self._timed_out if thread.is_alive()]
        if not self._timed_out:
            self._timeouts_in_a_row = 0  # every stuck call returned: the model answers again
        elif self._timeouts_in_a_row >= STUCK_AFTER:
            raise ModelStuck(
                f"not asked: the model is stuck on this worker ({self._timeouts_in_a_row} calls "
                f"in a row gave no answer within the eval's row timeout, and "
                f"{len(self._timed_out)} still run)"
            )
