import threading
import time

import pytest

from raygate.agent.generators import Generation, GenerationRequest
from raygate.agent.generators.batching import BatchingGenerator


class Recording:
    def __init__(self, fail: bool = False):
        self.batch_sizes = []
        self.fail = fail

    def generate(self, requests):
        self.batch_sizes.append(len(requests))
        time.sleep(0.05)
        if self.fail:
            raise RuntimeError("decoder crashed")
        return [Generation(r.query.upper(), (), False, 1, 1) for r in requests]


def request(i: int) -> GenerationRequest:
    return GenerationRequest(f"q{i}", "s", "u", ())


def run_concurrently(generator, count: int):
    results, errors = {}, {}

    def ask(i):
        try:
            results[i] = generator.generate([request(i)])[0].text
        except Exception as exc:
            errors[i] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    return results, errors


def test_concurrent_requests_are_decoded_together_and_answered_in_order():
    inner = Recording()
    results, errors = run_concurrently(
        BatchingGenerator(inner, max_batch_size=4, max_wait_s=0.05), 8
    )
    assert not errors and results == {i: f"Q{i}" for i in range(8)}
    assert (
        max(inner.batch_sizes) > 1 and sum(inner.batch_sizes) == 8 and max(inner.batch_sizes) <= 4
    )


def test_a_failed_batch_fails_every_waiter_and_the_worker_survives():
    inner = Recording(fail=True)
    batching = BatchingGenerator(inner, max_batch_size=4)
    _, errors = run_concurrently(batching, 3)
    assert len(errors) == 3 and all("decoder crashed" in str(e) for e in errors.values())
    inner.fail = False
    assert batching.generate([request(9)])[0].text == "Q9"


def test_one_call_with_several_requests_returns_them_in_order():
    batching = BatchingGenerator(Recording(), max_batch_size=8)
    assert [g.text for g in batching.generate([request(1), request(2)])] == ["Q1", "Q2"]


@pytest.mark.parametrize("size", [1])
def test_batch_size_one_passes_through(size):
    inner = Recording()
    run_concurrently(BatchingGenerator(inner, max_batch_size=size), 3)
    assert inner.batch_sizes == [1, 1, 1]


class Hanging:
    """The first batch hangs until released; later batches answer at once."""

    def __init__(self):
        self.release = threading.Event()
        self.seen: list[list[str]] = []

    def generate(self, requests):
        self.seen.append([r.query for r in requests])
        if len(self.seen) == 1:
            self.release.wait(10)
        return [Generation(r.query.upper(), (), False, 1, 1) for r in requests]

    def count_tokens(self, text):
        return 1


def test_a_hung_batch_is_abandoned_and_the_next_batch_is_not_blocked():
    from dataclasses import replace

    from raygate.agent.timeouts import StepTimeout

    inner = Hanging()
    batcher = BatchingGenerator(inner, max_batch_size=4, max_wait_s=0.001)
    with pytest.raises(StepTimeout):
        batcher.generate([replace(request(0), timeout_s=0.2)])
    started = time.monotonic()
    (answer,) = batcher.generate([replace(request(1), timeout_s=5.0)])
    assert answer.text == "Q1" and time.monotonic() - started < 2.0
    inner.release.set()  # the hung call's late result is dropped


def test_a_request_that_timed_out_in_the_queue_is_never_decoded():
    from dataclasses import replace

    from raygate.agent.timeouts import StepTimeout

    inner = Hanging()
    batcher = BatchingGenerator(inner, max_batch_size=1, max_wait_s=0.001)

    def first() -> None:
        with pytest.raises(StepTimeout):
            batcher.generate([replace(request(0), timeout_s=0.5)])

    blocker = threading.Thread(target=first)
    blocker.start()
    while not inner.seen:  # wait until the first batch is being decoded
        time.sleep(0.005)
    with pytest.raises(StepTimeout):
        batcher.generate([replace(request(1), timeout_s=0.05)])  # queued behind it, gives up
    (answer,) = batcher.generate([replace(request(2), timeout_s=5.0)])
    blocker.join()
    inner.release.set()
    assert answer.text == "Q2" and ["q1"] not in inner.seen
