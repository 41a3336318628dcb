"""Steady open-loop traffic in a background thread (Poisson arrivals, sticky users), counted by
outcome as it runs: what `raygate demo` drives a canary with, and what reliability tests hold
releases to ("zero failed requests")."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter

from raygate.loadtest.http_client import HttpClient
from raygate.loadtest.transport import Prompt, RequestResult, Sender, Target


class BackgroundLoad:
    """`rate_rps` requests a second to `target` until stopped; at most `max_requests`."""

    def __init__(
        self,
        target: Target,
        prompts: tuple[Prompt, ...],
        rate_rps: float,
        max_requests: int = 100_000,
        connections: int = 64,
        seed: int = 0,
    ) -> None:
        if not prompts:
            raise ValueError("BackgroundLoad needs at least one prompt")
        self.target, self.prompts, self.rate_rps = target, prompts, rate_rps
        self.max_requests, self.connections = max_requests, connections
        self.outcomes: Counter[str] = Counter()  # "ok", or the error of a failed request
        self.by_variant: Counter[str] = Counter()
        self.failures: list[RequestResult] = []
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="raygate-load", daemon=True)

    def start(self) -> BackgroundLoad:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop sending, then wait for the requests in flight to finish."""
        self._stop.set()
        self._thread.join(timeout_s)

    @property
    def sent(self) -> int:
        return sum(self.outcomes.values())

    def _run(self) -> None:
        asyncio.run(self._send_all())

    async def _send_all(self) -> None:
        client = HttpClient(self.target.url, self.connections, self.target.ca_pem)
        sender = Sender(self.target, client)
        payloads = [sender.prepare(p) for p in self.prompts]
        tasks: set[asyncio.Task] = set()
        started = due = time.perf_counter()
        for index in range(self.max_requests):
            if self._stop.is_set():
                break
            due += self._rng.expovariate(self.rate_rps)
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            payload = payloads[index % len(payloads)]
            task = asyncio.create_task(sender.send(payload, 0, due - started, due))
            tasks.add(task)
            task.add_done_callback(self._count)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks)
        client.close()

    def _count(self, task: asyncio.Task) -> None:
        result: RequestResult = task.result()
        self.outcomes["ok" if result.ok else (result.error or "failed")] += 1
        if result.variant:
            self.by_variant[result.variant] += 1
        if not result.ok:
            self.failures.append(result)
