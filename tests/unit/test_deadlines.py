import contextvars
import threading

import pytest

from raygate.evaluation.deadlines import STUCK_AFTER, Deadlines, ModelStuck, ModelTimeout

ROW_S = 0.05


def test_an_answer_within_the_deadline_is_returned_and_an_error_raised_as_the_model_raised():
    deadlines = Deadlines(ROW_S)
    assert deadlines.call(lambda: "answer", rows=1) == "answer"

    def raises() -> str:
        raise ValueError("cannot parse the product code")

    with pytest.raises(ValueError, match="cannot parse"):
        deadlines.call(raises, rows=1)


def test_a_call_with_no_answer_times_out_after_its_rows_deadline_and_is_left_running():
    deadlines, release = Deadlines(ROW_S), threading.Event()
    with pytest.raises(ModelTimeout, match=r"no answer within 0.2 s for 4 rows \(0.05 s a row\)"):
        deadlines.call(release.wait, rows=4)
    with pytest.raises(ModelTimeout, match=r"no answer within 0.05 s, the eval's row timeout"):
        deadlines.call(release.wait, rows=1)
    release.set()


def test_calls_that_keep_timing_out_while_earlier_ones_run_mark_the_model_stuck_until_they_end():
    """A model whose stuck call holds a lock every later call needs: after STUCK_AFTER calls
    with no answer the rest are not asked (each would wait its whole deadline) until the stuck
    calls return; then it is asked again."""
    deadlines, release, asked = Deadlines(ROW_S), threading.Event(), []

    def hangs() -> None:
        asked.append(1)
        release.wait()

    for _ in range(STUCK_AFTER):
        with pytest.raises(ModelTimeout):
            deadlines.call(hangs, rows=1)
    with pytest.raises(ModelStuck, match=r"3 calls in a row gave no answer .* 3 still run"):
        deadlines.call(hangs, rows=1)
    assert len(asked) == STUCK_AFTER  # not asked once stuck
    release.set()
    for thread in threading.enumerate():  # the stuck calls return
        if thread.name == "raygate-model-call":
            thread.join(5)
    assert deadlines.call(lambda: "back", rows=1) == "back"


def test_an_answer_between_timeouts_means_rows_that_hang_not_a_stuck_model():
    deadlines, release = Deadlines(ROW_S), threading.Event()
    for _ in range(STUCK_AFTER + 1):
        with pytest.raises(ModelTimeout):
            deadlines.call(release.wait, rows=1)
        assert deadlines.call(lambda: "fine", rows=1) == "fine"
    release.set()


def test_the_model_is_called_in_the_callers_context_its_trace_context_included():
    current = contextvars.ContextVar("current", default="none")
    current.set("eval row")
    assert Deadlines(ROW_S).call(current.get, rows=1) == "eval row"
