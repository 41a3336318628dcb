"""One test per rule of the controller loop, with a scripted generator and a fake clock."""

import time

import pytest

from raygate.agent.corpus import BUILTIN_CORPUS, load_corpus
from raygate.agent.generators import Generation, GenerationRequest
from raygate.agent.loop import ControllerLoop, LoopLimits
from raygate.agent.retrieval import BM25Retriever
from raygate.agent.tools import Toolbox, ToolCall, reference_tools
from raygate.errors import GeneratorError, TransientGeneratorError
from raygate.testing import ScriptedGenerator

DOCS = load_corpus(BUILTIN_CORPUS)
TOOLS = reference_tools(BM25Retriever.build(DOCS, 1.5, 0.75).retrieve, DOCS)
REQUEST = GenerationRequest("How much do 3 kettles cost?", "system", "user", ())


def answer(text="done"):
    return Generation(text, (), False, 10, 2)


def calls(*tool_calls):
    return Generation("", (), False, 10, 2, tool_calls=tuple(tool_calls))


def loop(generator, allowed=("search_documents", "fetch_document", "calculate"), **limits):
    return ControllerLoop(
        generator, Toolbox(TOOLS, allowed), LoopLimits(**limits), sleep=lambda s: None
    )


def test_a_plain_answer_ends_the_loop_in_one_step():
    result = loop(ScriptedGenerator(answer("30 days"))).run(REQUEST)
    assert (result.outcome, result.steps, result.generation.text) == ("answer", 1, "30 days")


def test_tool_results_come_back_as_observations():
    generator = ScriptedGenerator(
        calls(ToolCall("calculate", {"expression": "3 * 49.99"})), answer("$149.97")
    )
    result = loop(generator).run(REQUEST)
    assert result.outcome == "answer" and generator.requests[1].observations == ("149.97",)
    assert result.tokens_in == 20 and result.tokens_out == 4
    assert [t["name"] for t in generator.requests[0].tools] == [
        "search_documents",
        "fetch_document",
        "calculate",
    ]


def test_max_steps():
    script = [calls(ToolCall("calculate", {"expression": f"{i} + 1"})) for i in range(5)]
    result = loop(ScriptedGenerator(*script), max_steps=3).run(REQUEST)
    assert result.outcome == "max_steps" and result.steps == 3 and len(result.tool_results) == 3


def test_step_timeout_ends_cleanly_without_a_fallback():
    started = time.monotonic()
    result = loop(ScriptedGenerator((2.0, answer())), step_timeout_s=0.1).run(REQUEST)
    assert result.outcome == "step_timeout" and result.generation is None
    assert time.monotonic() - started < 1.5  # it stopped waiting; it did not hang


def test_deadline_is_checked_before_every_step():
    now = [0.0]
    generator = ScriptedGenerator(calls(ToolCall("calculate", {"expression": "1 + 1"})), answer())
    controller = loop(generator, deadline_s=5.0)
    controller.clock = lambda: now[0]
    original = generator.generate

    def slow(requests):
        now[0] += 6.0  # each call takes 6 s of the 5 s budget
        return original(requests)

    generator.generate = slow
    result = controller.run(REQUEST)
    assert result.outcome == "deadline" and result.steps == 1 and len(generator.requests) == 1


def test_invalid_tool_arguments_are_returned_then_corrected():
    generator = ScriptedGenerator(
        calls(ToolCall("calculate", {"expr": "2 * 21"})),
        calls(ToolCall("calculate", {"expression": "2 * 21"})),
        answer("42"),
    )
    result = loop(generator).run(REQUEST)
    first, second = result.tool_results
    assert not first.ok and "field 'expression': Field required" in first.content
    assert "fix them and call again" in generator.requests[1].observations[0]
    assert second.ok and second.content == "42" and result.outcome == "answer"


def test_a_tool_outside_the_allow_list_is_refused_and_recorded():
    generator = ScriptedGenerator(
        calls(ToolCall("fetch_document", {"doc_id": "pol-student"})), answer()
    )
    result = loop(generator, allowed=("calculate",)).run(REQUEST)
    (refused,) = result.tool_results
    assert (
        refused.refused
        and not refused.ok
        and "not allowed; allowed tools: calculate" in refused.content
    )


def test_the_same_call_twice_is_a_loop():
    same = ToolCall("search_documents", {"query": "kettle"})
    result = loop(ScriptedGenerator(calls(same), calls(same), answer())).run(REQUEST)
    assert result.outcome == "loop_detected" and "repeated call search_documents" in result.detail


def test_steps_without_new_information_are_a_loop():
    script = [
        calls(ToolCall("fetch_document", {"doc_id": "missing-doc", "k": i})) for i in range(4)
    ]
    result = loop(ScriptedGenerator(*script), max_stale_steps=2).run(REQUEST)
    assert result.outcome == "loop_detected" and result.detail == "no new information"


def test_transient_errors_are_retried_then_succeed():
    generator = ScriptedGenerator(
        TransientGeneratorError("overloaded"), TransientGeneratorError("reset"), answer("ok")
    )
    result = loop(generator, retry_attempts=3).run(REQUEST)
    assert result.outcome == "answer" and len(generator.requests) == 3 and result.fallback is None


def test_permanent_errors_are_not_retried():
    generator = ScriptedGenerator(GeneratorError("bad request"), answer())
    result = loop(generator).run(REQUEST)
    assert (
        result.outcome == "error"
        and len(generator.requests) == 1
        and "bad request" in result.detail
    )


def test_fallback_is_used_and_recorded():
    controller = loop(ScriptedGenerator(GeneratorError("model unavailable")))
    controller.fallback = ("extractive", ScriptedGenerator(answer("from the fallback")))
    result = controller.run(REQUEST)
    assert result.outcome == "answer" and result.generation.text == "from the fallback"
    assert result.fallback == "extractive after error"


@pytest.mark.parametrize("expression", ["__import__('os')", "2 ** 1000", "1 / 0", "x + 1"])
def test_calculator_refuses_anything_but_arithmetic(expression):
    (result,) = [t for t in TOOLS if t.name == "calculate"]
    outcome = result.call(ToolCall("calculate", {"expression": expression}))
    assert not outcome.ok and outcome.content.startswith("calculate failed:")


class Ticking(ScriptedGenerator):
    """A scripted generator whose every call takes `cost_s` of a fake clock."""

    def __init__(self, now: list[float], cost_s: float, *script):
        super().__init__(*script)
        self.now, self.cost_s = now, cost_s

    def generate(self, requests):
        self.now[0] += self.cost_s
        return super().generate(requests)


def test_one_deadline_covers_every_retry_backoff_and_the_fallback():
    now, slept = [0.0], []
    primary = Ticking(now, 2.0, *[TransientGeneratorError("overloaded")] * 10)
    fallback = Ticking(now, 2.0, answer("too late"))
    controller = loop(primary, deadline_s=5.0, retry_attempts=10, step_timeout_s=30.0)
    controller.clock, controller.sleep = (lambda: now[0]), slept.append
    controller.fallback = ("extractive", fallback)
    result = controller.run(REQUEST)
    assert result.outcome == "deadline" and result.generation is None
    assert len(primary.requests) == 3  # started at 0, 2 and 4 s; none after the deadline
    assert fallback.requests == []  # no budget was left for it
    assert all(request.timeout_s <= 5.0 - 2.0 * i for i, request in enumerate(primary.requests))


def test_the_fallback_gets_only_the_time_that_is_left():
    now = [0.0]
    primary = Ticking(now, 4.0, GeneratorError("model unavailable"))
    fallback = Ticking(now, 0.5, answer("from the fallback"))
    controller = loop(primary, deadline_s=5.0, step_timeout_s=30.0)
    controller.clock = lambda: now[0]
    controller.fallback = ("extractive", fallback)
    result = controller.run(REQUEST)
    assert result.outcome == "answer" and result.fallback == "extractive after error"
    assert fallback.requests[0].timeout_s == pytest.approx(1.0)


def test_abandoned_calls_are_bounded_and_released(monkeypatch):
    import threading

    from raygate.agent import timeouts

    def settled() -> bool:  # calls abandoned by earlier tests end within their own sleeps
        deadline = time.monotonic() + 5
        while timeouts.abandoned_calls() and time.monotonic() < deadline:
            time.sleep(0.01)
        return timeouts.abandoned_calls() == 0

    assert settled()
    monkeypatch.setattr(timeouts, "MAX_ABANDONED_CALLS", 2)
    release = threading.Event()
    for _ in range(2):
        with pytest.raises(timeouts.StepTimeout):
            timeouts.call_with_timeout(release.wait, 0.01)
    assert timeouts.abandoned_calls() == 2
    with pytest.raises(GeneratorError, match="still running"):
        timeouts.call_with_timeout(lambda: "never started", 1.0)
    release.set()
    assert settled()  # the abandoned threads end once the engine returns
    assert timeouts.call_with_timeout(lambda: "again", 1.0) == "again"
