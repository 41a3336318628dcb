"""Cross-request batching: concurrent single requests are decoded together in one batch.

Each request's controller loop runs in its own thread and asks for one generation at a time;
this wrapper queues those asks and hands up to `max_batch_size` of them to the wrapped
generator at once, so an LLM decodes rows of a predict() batch together.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial

from raygate.agent.generators.base import Generation, GenerationRequest, Generator
from raygate.agent.timeouts import StepTimeout, call_with_timeout


class BatchingGenerator:
    """Wraps a generator; thread-safe; one daemon worker thread does all decoding.

    A request carrying `timeout_s` is waited for that long: if it is still queued then it is
    dropped unseen, and a batch that outlives the longest wait of its requests is abandoned
    (its late result discarded, its thread counted among the bounded abandoned calls) so the
    next batch starts at once.
    """

    def __init__(self, inner: Generator, max_batch_size: int, max_wait_s: float = 0.01) -> None:
        self._inner = inner
        self._max_batch_size = max_batch_size
        self._max_wait_s = max_wait_s
        self._queue: queue.Queue[tuple[GenerationRequest, Future, float | None]] = queue.Queue()
        threading.Thread(target=self._work, daemon=True, name="raygate-batcher").start()

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        pending = []
        for request in requests:
            future: Future = Future()
            until = None if request.timeout_s is None else time.monotonic() + request.timeout_s
            self._queue.put((request, future, until))
            pending.append((future, request.timeout_s))
        results = []
        for future, timeout_s in pending:
            try:
                results.append(future.result(timeout=timeout_s))
            except FutureTimeout:
                future.cancel()  # still queued: the worker will skip it
                raise StepTimeout(f"no answer within {timeout_s:.2f} s") from None
        return results

    def count_tokens(self, text: str) -> int:
        return self._inner.count_tokens(text)

    @property
    def inner(self) -> Generator:
        """The wrapped generator (a streamed request is decoded by it directly, alone)."""
        return self._inner

    def _work(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                continue
            untils = [until for _, _, until in batch]
            budget = None if None in untils else max(untils) - time.monotonic()
            requests = [request for request, _, _ in batch]
            try:
                if budget is None:
                    generations = self._inner.generate(requests)
                else:
                    generations = call_with_timeout(partial(self._inner.generate, requests), budget)
            except Exception as exc:  # every waiter of this batch sees the failure
                for _, future, _ in batch:
                    future.set_exception(exc)  # running futures cannot be cancelled: no race
                continue
            for (_, future, _), generation in zip(batch, generations, strict=True):
                future.set_result(generation)  # dropped if its caller stopped waiting

    def _take_batch(self) -> list[tuple[GenerationRequest, Future, float | None]]:
        """Up to max_batch_size queued requests whose callers still wait."""
        batch = []
        first = True
        while len(batch) < self._max_batch_size:
            try:
                item = self._queue.get() if first else self._queue.get(timeout=self._max_wait_s)
            except queue.Empty:
                break
            first = False
            if item[1].set_running_or_notify_cancel():  # False: the caller gave up
                batch.append(item)
        return batch
