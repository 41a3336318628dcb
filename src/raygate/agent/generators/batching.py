"""Cross-request batching: concurrent single requests are decoded together in one batch.

Each request's controller loop runs in its own thread and asks for one generation at a time;
this wrapper queues those asks and hands up to `max_batch_size` of them to the wrapped
generator at once, so an LLM decodes rows of a predict() batch together.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from raygate.agent.generators.base import Generation, GenerationRequest, Generator


class BatchingGenerator:
    """Wraps a generator; thread-safe; one daemon worker thread does all decoding."""

    def __init__(self, inner: Generator, max_batch_size: int, max_wait_s: float = 0.01) -> None:
        self._inner = inner
        self._max_batch_size = max_batch_size
        self._max_wait_s = max_wait_s
        self._queue: queue.Queue[tuple[GenerationRequest, Future]] = queue.Queue()
        threading.Thread(target=self._work, daemon=True, name="raygate-batcher").start()

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        futures = []
        for request in requests:
            future: Future = Future()
            self._queue.put((request, future))
            futures.append(future)
        return [f.result() for f in futures]

    def count_tokens(self, text: str) -> int:
        return self._inner.count_tokens(text)

    def _work(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch_size:
                try:
                    batch.append(self._queue.get(timeout=self._max_wait_s))
                except queue.Empty:
                    break
            try:
                generations = self._inner.generate([request for request, _ in batch])
            except Exception as exc:  # every waiter of this batch sees the failure
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), generation in zip(batch, generations, strict=True):
                future.set_result(generation)
