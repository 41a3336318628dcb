"""Run a load test on Ray: N worker actors, each one asyncio client with many requests in
flight on its own event loop; the open-loop rate and the workload are dealt among them;
results stream back to the driver in small batches, go straight to Parquet and are summed
as they pass, so the driver's memory does not grow with the length of the run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import uvloop

from raygate.capacity import LOAD_START_TIMEOUT_S, ActorAsk, check_room, start_timed_out
from raygate.errors import LoadTestError
from raygate.loadtest.arrival import ArrivalConfig, send_times
from raygate.loadtest.http_client import HttpClient
from raygate.loadtest.metrics import LoadAccumulator
from raygate.loadtest.transport import Prompt, RequestResult, Sender, Target

RESULTS_FILE = "results.parquet"
SUMMARY_FILE = "summary.json"
START_DELAY_S = 1.0  # time for every worker to receive its start signal
POLL_S = 2.0  # how often the driver collects results: rarely enough not to slow the workers
RESULT_SCHEMA = pa.schema([
    ("worker", pa.int32()), ("scheduled_s", pa.float64()), ("latency_ms", pa.float64()),
    ("service_ms", pa.float64()), ("ttft_ms", pa.float64()), ("itl_ms", pa.list_(pa.float64())),
    ("ok", pa.bool_()), ("status", pa.int32()), ("error", pa.string()),
    ("tokens_in", pa.int64()), ("tokens_out", pa.int64()), ("cost_usd", pa.float64()),
    ("variant", pa.string()), ("finish_reason", pa.string()),
    ("safety_flags", pa.list_(pa.string())), ("finished_at", pa.float64()),
    ("model_id", pa.string()),
])  # fmt: skip


@dataclass(frozen=True)
class WorkerPlan:
    """One worker's share: its send offsets (open loop) or its users (closed loop)."""

    start_wall: float
    arrival: ArrivalConfig
    index: int  # this worker's place among `workers`: its share of the schedule
    workers: int
    concurrency: int = 0  # closed loop: this worker's users


@dataclass(frozen=True)
class Progress:
    """What the workers have done so far."""

    elapsed_s: float
    sent: int
    done: int
    failed: int


def _normal_priority() -> None:
    """Ray starts workers at niceness 15; a load generator at low priority falls behind the
    server it shares cores with and reports the lag as latency. Back to 0 where allowed."""
    with contextlib.suppress(OSError, AttributeError):  # without CAP_SYS_NICE: as started
        os.setpriority(os.PRIO_PROCESS, 0, 0)


class LoadSession:
    """One worker's sending: its share of the prompts, the results not yet drained, and the
    counts. Its coroutines run on a private event loop; `drain` is called from other threads."""

    def __init__(self, index: int, target: Target, prompts: list[Prompt], connections: int):
        self._index, self._target, self._prompts = index, target, prompts  # its dealt share
        self._connections = connections
        self._results: list[RequestResult] = []
        self._lock = threading.Lock()
        self.sent = self.done = self.failed = 0

    def drain(self) -> list[RequestResult]:
        """Results since the last call (the driver writes them out)."""
        with self._lock:
            results, self._results = self._results, []
        return results

    async def main(self, plan: WorkerPlan) -> None:
        client = HttpClient(self._target.url, self._connections, self._target.ca_pem)
        sender = Sender(self._target, client)
        payloads = [sender.prepare(p) for p in self._prompts]
        start = time.perf_counter() + (plan.start_wall - time.time())
        try:
            if plan.arrival.open_loop:
                await self._open_loop(sender, payloads, start, plan)
            else:
                await self._closed_loop(sender, payloads, start, plan)
        finally:
            client.close()

    async def _open_loop(
        self, sender: Sender, payloads: list[bytes], start: float, plan: WorkerPlan
    ) -> None:
        """Send at the scheduled times whatever the answers do; latency counts from them.
        Worker i sends the schedule's requests i, i + workers, …, each with the next prompt of
        its share (the workload was dealt the same way): the cards of one deck."""
        tasks: set[asyncio.Task] = set()
        loop = asyncio.get_running_loop()
        offsets = send_times(plan.arrival)[plan.index :: plan.workers].tolist()
        n = 0
        while n < len(offsets):
            delay = start + offsets[n] - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.perf_counter()
            # Everything due by now goes out in this turn of the loop: one wake-up, many sends.
            while n < len(offsets) and start + offsets[n] <= now:
                payload = payloads[n % len(payloads)]
                task = loop.create_task(self._one(sender, payload, offsets[n], start + offsets[n]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n += 1
        if tasks:
            await asyncio.gather(*tasks)

    async def _closed_loop(
        self, sender: Sender, payloads: list[bytes], start: float, plan: WorkerPlan
    ) -> None:
        """`concurrency` users, each sending its next request when the last one is answered;
        user u of this worker sends prompts u, u + its users, … of the worker's share."""
        delay = start - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        end, concurrency = start + plan.arrival.duration_s, plan.concurrency

        async def user(u: int) -> None:
            n = u
            while (now := time.perf_counter()) < end:
                await self._one(sender, payloads[n % len(payloads)], now - start, now)
                n += concurrency

        await asyncio.gather(*(user(u) for u in range(concurrency)))

    async def _one(self, sender: Sender, payload: bytes, offset: float, due: float) -> None:
        self.sent += 1
        result: RequestResult = await sender.send(payload, self._index, offset, due)
        self.done += 1
        self.failed += not result.ok
        with self._lock:
            self._results.append(result)


class LoadWorker:
    """One load-generating process (a Ray actor with threads: no coroutine methods, or Ray
    would run it as an async actor and `run` would block `drain` until the end). `run` drives
    a LoadSession on a private uvloop event loop in a thread of its own; `drain` and
    `progress` answer from Ray's other actor threads meanwhile."""

    def __init__(self, index: int, target: Target, prompts: list[Prompt], connections: int):
        _normal_priority()
        self._index = index
        self._session = LoadSession(index, target, prompts, connections)

    def ready(self) -> bool:
        return True

    def run(self, plan: WorkerPlan) -> dict[str, int]:
        """Send this worker's share; returns the counts when done."""
        failure: list[BaseException] = []

        def target() -> None:
            try:
                uvloop.run(self._session.main(plan))
            except BaseException as exc:  # handed to the caller below
                failure.append(exc)

        thread = threading.Thread(target=target, name=f"raygate-load-{self._index}")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]
        session = self._session
        return {"sent": session.sent, "done": session.done, "failed": session.failed}

    def drain(self) -> list[RequestResult]:
        return self._session.drain()

    def progress(self) -> tuple[int, int, int]:
        return self._session.sent, self._session.done, self._session.failed


@dataclass
class LoadRun:
    """Where the results are and what they add up to."""

    results_path: Path
    summary: dict[str, Any]


def run_load(
    target: Target,
    arrival: ArrivalConfig,
    prompts: Sequence[Prompt],
    out_dir: Path,
    workers: int = 1,
    connections: int = 256,
    worker_cpus: float = 1.0,
    slos: dict[str, float] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    start_timeout_s: float = LOAD_START_TIMEOUT_S,
    on_wait: Callable[[str], None] | None = None,
) -> LoadRun:
    """Run the load on `workers` Ray actors and summarize it; results land in out_dir.
    Workers the cluster has no room for are an error at once, or after `start_timeout_s`
    when others hold the resources (`on_wait` is told so first)."""
    import ray
    from ray.exceptions import GetTimeoutError, ObjectLostError, RayActorError, RaySystemError

    ask = ActorAsk("load worker", workers, worker_cpus, 0.0, "--workers", "--worker-cpus")
    waiting = check_room(ask)
    if waiting and on_wait:
        on_wait(waiting)
    out_dir.mkdir(parents=True, exist_ok=True)
    remote = ray.remote(num_cpus=worker_cpus, max_concurrency=4)(LoadWorker)
    # Dealt like cards: worker i gets prompts i, i + workers, … (never the whole workload)
    # and sends them in order, so each planned request has its own prompt until it wraps.
    shares = [list(prompts[i::workers]) or [prompts[i % len(prompts)]] for i in range(workers)]
    actors = [remote.remote(i, target, share, connections) for i, share in enumerate(shares)]
    try:
        ray.get([a.ready.remote() for a in actors], timeout=start_timeout_s)
    except GetTimeoutError:
        _stop(actors)
        raise start_timed_out(ask.describe(), start_timeout_s, ask.hint) from None
    start_wall = time.time() + START_DELAY_S
    total_users = arrival.concurrency or 0
    runs = []
    for i, actor in enumerate(actors):
        users = total_users // workers + (i < total_users % workers)
        plan = WorkerPlan(start_wall, arrival, i, workers, users)
        runs.append(actor.run.remote(plan))
    path = out_dir / RESULTS_FILE
    figures = LoadAccumulator(slos, arrival.duration_s if arrival.open_loop else None)
    interrupted_s = None
    try:
        with pq.ParquetWriter(path, RESULT_SCHEMA) as writer:
            pending = list(runs)
            try:
                while pending:
                    _, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_S)
                    _write(writer, figures, ray.get([a.drain.remote() for a in actors]))
                    if on_progress is not None:
                        counts = np.sum(ray.get([a.progress.remote() for a in actors]), axis=0)
                        elapsed = max(0.0, time.time() - start_wall)
                        on_progress(Progress(elapsed, *map(int, counts)))
                ray.get(runs)  # surface a worker's crash
            except KeyboardInterrupt:  # Ctrl-C: keep what was answered, stop sending
                interrupted_s = max(0.0, time.time() - start_wall)
                figures.stop_window(interrupted_s)
            _write(writer, figures, ray.get([a.drain.remote() for a in actors]))
    except (RayActorError, RaySystemError, ObjectLostError) as exc:
        _stop(actors)
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
        raise LoadTestError(
            f"a load worker died mid-run ({type(exc).__name__}: {cause}): its node left the "
            f"Ray cluster or ran out of memory. The {figures.requests} answers collected "
            f"before are in {path}; no summary was written. Check `ray status`, then run again"
        ) from None
    _stop(actors)
    # The measured window: the run's duration, or until the last answer if later; until the
    # interruption for a run stopped early (requests then in flight are in no figure).
    duration = max(arrival.duration_s, figures.last_answer_s)
    if interrupted_s is not None:
        duration = interrupted_s
    summary = {
        "mode": "open" if arrival.open_loop else "closed",
        "target_rate_rps": arrival.rate,
        "concurrency": arrival.concurrency,
        "workers": workers,
        **figures.summary(duration),
    }
    if interrupted_s is not None:
        summary["interrupted_after_s"] = interrupted_s
    if arrival.open_loop:
        summary |= figures.send_accuracy()
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return LoadRun(path, summary)


def _stop(actors: list) -> None:
    import ray

    for actor in actors:
        with contextlib.suppress(Exception):  # already dead, or its node is gone
            ray.kill(actor)


def _write(
    writer: pq.ParquetWriter, figures: LoadAccumulator, batches: list[list[RequestResult]]
) -> None:
    rows = [row for batch in batches for row in batch]
    if rows:
        columns = zip(*rows, strict=True)  # row tuples → one sequence per column
        arrays = [pa.array(c, type=f.type) for c, f in zip(columns, RESULT_SCHEMA, strict=True)]
        table = pa.Table.from_arrays(arrays, schema=RESULT_SCHEMA)
        writer.write_table(table)
        figures.add(table)
