"""Streaming an agent's answer: what may be shown while it decodes, how the loop streams a
turn, and the reference agent streaming a real (tiny, random-weight) LLM end to end."""

from collections.abc import Callable
from pathlib import Path

import pytest

from raygate.agent.generators import Generation, GenerationRequest
from raygate.agent.generators.chat import reply_to_generation
from raygate.agent.loop import ControllerLoop, LoopLimits
from raygate.agent.streaming import HOLD_BACK, AnswerStream, StreamClosed
from raygate.agent.tools import Toolbox
from raygate.errors import TransientGeneratorError

PROSE = ("Kitchen products can be returned within 60 days of delivery [pol-return-kitchen], "
         "unused and in their original packaging; write to jane.doe@example.com to start a "
         "return, and keep the receipt until the refund arrives on your card.")  # fmt: skip


def streamed(pieces: list[str], tools_offered: bool = False, redact: bool = True):
    sent: list[str] = []
    stream = AnswerStream(sent.append, redact_pii=redact)
    stream.begin_turn(tools_offered)
    during = []
    for piece in pieces:
        stream.piece(piece)
        during.append("".join(sent))
    return stream, sent, during


def words(text: str) -> list[str]:
    return [w + " " for w in text.split(" ")]


def test_prose_streams_before_the_end_and_adds_up_to_the_final_answer():
    stream, sent, during = streamed(words(PROSE))
    assert during[len(during) // 2], "nothing went out before the turn ended"
    final = reply_to_generation(PROSE, GenerationRequest("q", "s", "u", ()), 1, 1).text
    from raygate.agent.safety import screen_output

    answer, _ = screen_output(final)
    stream.finish(answer)
    assert "".join(sent) == answer
    assert "[pol-return-kitchen]" not in "".join(sent)
    assert "jane.doe@example.com" not in "".join(during[-1] + sent[-1])


def test_pii_split_between_pieces_is_never_shown_whole_or_in_part():
    pieces = ["Write to jane.", "doe@exam", "ple.com", *words(PROSE[:120])]
    _, sent, during = streamed(pieces)
    assert all("jane.doe" not in text and "doe@exam" not in text for text in during)
    assert "[EMAIL]" in "".join(sent)


def test_the_last_stretch_is_held_back():
    _, sent, _ = streamed(words(PROSE))
    assert len(PROSE) - len("".join(sent)) >= HOLD_BACK - 30  # minus what the markers took


def test_a_turn_that_opens_like_a_tool_call_is_held_whole():
    call = '{"tool": "calculate", "arguments": {"expression": "' + "1 + " * 40 + '1"}}'
    _, sent, _ = streamed(list(call), tools_offered=True)
    assert sent == []


def test_prose_is_held_from_a_brace_on_when_tools_are_offered():
    text = "Let me check that for you, it takes a moment. " * 3 + '{"tool": "calculate"}' + "x" * 99
    _, sent, _ = streamed(list(text), tools_offered=True)
    assert "{" not in "".join(sent) and "".join(sent)


def test_an_abandoned_turn_refuses_more_pieces():
    stream, _, _ = streamed(["one "])
    stream.abandon_turn()
    with pytest.raises(StreamClosed):
        stream.piece("two ")


class StreamingScript:
    """A generator whose `stream` plays pieces, then an exception or the reply (a text read
    as the chat generators read theirs, or a Generation)."""

    def __init__(self, *turns: tuple[list[str], str | Generation | Exception]) -> None:
        self.turns = list(turns)
        self.streamed = 0

    def generate(self, requests):
        raise AssertionError("a streaming request must not be decoded whole")

    def stream(self, request, on_piece: Callable[[str], None]) -> Generation:
        self.streamed += 1
        pieces, end = self.turns.pop(0)
        for piece in pieces:
            on_piece(piece)
        if isinstance(end, Exception):
            raise end
        return reply_to_generation(end, request, 5, len(pieces)) if isinstance(end, str) else end

    def count_tokens(self, text: str) -> int:
        return len(text.split())


REQUEST = GenerationRequest("q", "system", "user", ())


def run(generator, fallback=None) -> tuple:
    sent: list[str] = []
    stream = AnswerStream(sent.append, redact_pii=False)
    loop = ControllerLoop(generator, Toolbox((), ()), LoopLimits(), fallback=fallback,
                          sleep=lambda s: None)  # fmt: skip
    return loop.run(REQUEST, stream), stream, sent


def test_the_loop_streams_a_turn_of_a_generator_that_can():
    text = PROSE.replace("[pol-return-kitchen]", "")
    generator = StreamingScript((words(text), Generation(text, (), False, 5, 40)))
    result, _, sent = run(generator)
    assert result.outcome == "answer" and generator.streamed == 1 and sent


def test_a_failure_after_text_went_out_ends_the_request_without_retry_or_fallback():
    from raygate.testing import ScriptedGenerator

    generator = StreamingScript((words(PROSE), TransientGeneratorError("connection reset")),
                                (words(PROSE), Generation(PROSE, (), False, 5, 40)))  # fmt: skip
    fallback = ("extractive", ScriptedGenerator(Generation("other", (), False, 1, 1)))
    result, stream, _ = run(generator, fallback)
    assert result.outcome == "error" and generator.streamed == 1 and stream.started


def test_a_failure_before_any_text_is_retried():
    done = Generation("60 days", (), False, 5, 2)
    generator = StreamingScript(([], TransientGeneratorError("busy")), (words("60 days"), done))
    result, _, _ = run(generator)
    assert result.outcome == "answer" and generator.streamed == 2


def agent_with(generator, folder: Path):
    """The reference agent (agents/v1.yaml's retrieval, prompt and safety) on `generator`."""
    from raygate.agent.agent import ReferenceAgent
    from raygate.agent.corpus import BUILTIN_CORPUS, load_corpus
    from raygate.agent.prompts import load_prompt_bundle
    from raygate.agent.rag_index import build_indexes, load_rag
    from raygate.config import load_agent_config

    config = load_agent_config(Path(__file__).resolve().parents[2] / "agents" / "v1.yaml")
    documents = load_corpus(BUILTIN_CORPUS)
    build_indexes(config.retriever, documents, folder)
    rag = load_rag(config.retriever, documents, folder, generator.count_tokens)
    prompt = load_prompt_bundle().get(config.prompt.id, config.prompt.version)
    return ReferenceAgent(config, rag, prompt, generator, "agent@1")


def test_the_reference_agent_streams_and_the_pieces_are_its_answer(tmp_path):
    from raygate.schemas import PredictInput

    generator = StreamingScript((words(PROSE), PROSE))
    sent: list[str] = []
    agent = agent_with(generator, tmp_path)
    output = agent.predict_stream(PredictInput(query="Kitchen returns?"), sent.append)
    assert output.finish_reason == "answer" and len(sent) > 2
    assert "".join(sent) == output.answer and "[EMAIL]" in output.answer
    assert any("pii_redacted_output" in flag for flag in output.safety_flags)


def test_a_refusal_streams_as_one_piece_and_nothing_is_generated(tmp_path):
    from raygate.schemas import PredictInput

    generator = StreamingScript()
    sent: list[str] = []
    agent = agent_with(generator, tmp_path)
    output = agent.predict_stream(PredictInput(query="how do I build a bomb"), sent.append)
    assert output.finish_reason == "refused" and sent == [output.answer]
    assert generator.streamed == 0


def test_a_client_that_goes_away_ends_the_request(tmp_path):
    from raygate.schemas import PredictInput

    def hang_up(text: str) -> None:
        raise StreamClosed("gone")

    generator = StreamingScript((words(PROSE), PROSE))
    agent = agent_with(generator, tmp_path)
    output = agent.predict_stream(PredictInput(query="Kitchen returns?"), hang_up)
    assert output.finish_reason == "error" and "StreamClosed" in output.error
