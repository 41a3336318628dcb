"""A generator that plays back a script: generations, exceptions, or (delay, generation)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from raygate.agent.generators import Generation, GenerationRequest


class ScriptedGenerator:
    """Answers each call with the next script item and records every request it saw.

    An item is a Generation, an exception to raise, or a (seconds, Generation) pair that
    sleeps first (for timeout tests).
    """

    def __init__(self, *script: Generation | Exception | tuple[float, Generation]) -> None:
        self.script = list(script)
        self.requests: list[GenerationRequest] = []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.requests.extend(requests)
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        if isinstance(item, tuple):
            delay, item = item
            time.sleep(delay)
        return [item]

    def count_tokens(self, text: str) -> int:
        return len(text.split())
