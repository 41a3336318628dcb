"""Which part of an answer may be shown while the agent's final step is still decoding.

A generator streaming a turn hands its raw text here piece by piece. Text is released only
when it is sure to be part of the answer the agent will return: a turn that opens like a tool
call (JSON) is held whole, and so is everything from a `{` on when tools are offered; citation
markers are dropped and PII redacted the way the final answer is; and the last stretch of the
text is held back (to the last space at least HOLD_BACK characters before its end), so that a
marker or a PII value cut between two pieces is never shown half-processed. When the agent
has its final answer, the rest of it goes out: what was streamed plus that rest is the answer.
One case is not: a turn that opens with prose and calls a tool after it has sent that prose
(the client reads it before the answer of a later turn).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from raygate.agent.generators.chat import strip_citations
from raygate.telemetry.pii import redact

HOLD_BACK = 80  # characters held back at the end of the raw text (markers, PII values)
_TOOL_OPENINGS = ("{", "`", "[{")


class StreamClosed(Exception):
    """The client went away, or the step was abandoned: stop generating."""


class AnswerStream:
    """Releases the safe part of each generation turn to `emit`; thread-safe."""

    def __init__(self, emit: Callable[[str], None], redact_pii: bool) -> None:
        self._emit, self._redact_pii = emit, redact_pii
        self._lock = threading.Lock()
        self._raw = ""
        self._tools_offered = False
        self._open = True
        self._turn_sent = ""  # text of the running turn released so far
        self._shown_end = 0  # how much of the raw text that release was made from
        self.started = False  # whether any text went out (the request cannot start over)

    def begin_turn(self, tools_offered: bool) -> None:
        """A new generation turn starts (a retry, a fallback or the next step)."""
        with self._lock:
            self._raw, self._tools_offered, self._open = "", tools_offered, True
            self._turn_sent, self._shown_end = "", 0

    def abandon_turn(self) -> None:
        """The loop gave up on the running turn (timeout): its later pieces are refused."""
        with self._lock:
            self._open = False

    def close(self) -> None:
        """The client went away: the generator stops at its next piece."""
        self.abandon_turn()

    def piece(self, text: str) -> None:
        """One raw piece of the running turn; raises StreamClosed once the turn is abandoned."""
        with self._lock:
            if not self._open:
                raise StreamClosed("the stream was closed")
            self._raw += text
            end = self._safe_end()
            if end > self._shown_end:  # nothing new is safe to show until the end moves
                self._shown_end = end
                self._release(self._shown(end))

    def finish(self, answer: str) -> None:
        """The agent's final answer: whatever of it has not been sent goes out now."""
        with self._lock:
            self._release(answer)

    def _safe_end(self) -> int:
        raw = self._raw
        if self._tools_offered:
            if raw.lstrip().startswith(_TOOL_OPENINGS):
                return 0  # this turn is very likely a tool call: hold it whole
            brace = raw.find("{")
            if brace >= 0:
                raw = raw[:brace]
        cut = raw.rfind(" ", 0, max(0, len(raw) - HOLD_BACK))
        return max(cut, 0)

    def _shown(self, end: int) -> str:
        text = strip_citations(self._raw[:end]).lstrip()
        return redact(text) if self._redact_pii else text

    def _release(self, text: str) -> None:
        if len(text) > len(self._turn_sent) and text.startswith(self._turn_sent):
            delta, self._turn_sent = text[len(self._turn_sent) :], text
            self.started = True
            self._emit(delta)
