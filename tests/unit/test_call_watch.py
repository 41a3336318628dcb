import pytest

from raygate.serving.call_watch import CallWatch


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_call_that_answers_nothing_for_too_long_is_stuck_and_one_that_returns_is_not():
    clock = Clock()
    watch = CallWatch(clock)
    assert watch.stuck(after_s=60) is None  # nothing runs: idle, not stuck
    with watch.call():
        clock.now += 59
        assert watch.stuck(after_s=60) is None  # slow, not yet stuck
        clock.now += 2
        said = watch.stuck(after_s=60)
        assert said is not None
        assert "answered nothing for 61 s while 1 call(s) of it run, the oldest for 61 s" in said
    assert watch.stuck(after_s=60) is None  # it returned


def test_answers_beside_a_stuck_call_mean_the_model_still_serves():
    """A call hung on one row while the others answer leaves the replica serving: only a
    model that answers nothing at all (its stuck call holds what every call needs) is stuck."""
    clock = Clock()
    watch = CallWatch(clock)
    hung = watch.call()
    hung.__enter__()
    for _ in range(5):
        clock.now += 30
        with watch.call():
            clock.now += 1
    assert watch.stuck(after_s=60) is None
    clock.now += 61
    assert "while 1 call(s) of it run, the oldest for 216 s" in watch.stuck(after_s=60)


def test_a_stream_sending_pieces_is_not_stuck_however_long_it_runs():
    clock = Clock()
    watch = CallWatch(clock)
    with watch.call():
        for _ in range(10):
            clock.now += 30
            watch.progressed()
        assert watch.stuck(after_s=60) is None


def test_a_call_that_raises_counts_as_an_answer():
    clock = Clock()
    watch = CallWatch(clock)
    with pytest.raises(ValueError), watch.call():
        clock.now += 500
        raise ValueError("the backend refused")
    with watch.call():
        clock.now += 59
        assert watch.stuck(after_s=60) is None
