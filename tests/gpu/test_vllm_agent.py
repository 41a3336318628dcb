"""The agent's in-process vLLM generator and the transformers generator on CUDA, both on the
tiny model the conftest builds."""

import pytest

from raygate.agent.generators import GenerationRequest, make_generator
from raygate.config import TransformersGeneratorConfig, VllmGeneratorConfig
from tests.gpu.conftest import vllm_settings

REQUEST = GenerationRequest("2+2?", "Answer briefly.", "What is 2 + 2?", ())


def test_vllm_generator_answers_with_engine_token_counts(tiny_llm):
    pytest.importorskip("vllm")
    config = VllmGeneratorConfig(kind="vllm", model=str(tiny_llm), max_new_tokens=16,
                                 **vllm_settings())  # fmt: skip
    generator = make_generator(config)
    (first,), (second,) = generator.generate([REQUEST]), generator.generate([REQUEST])
    assert first.tokens_in > 0 and 0 < first.tokens_out <= 16
    assert second.tokens_cached > 0  # prefix caching reused the identical prompt


def test_vllm_generator_streams_a_request_step_by_step(tiny_llm):
    pytest.importorskip("vllm")
    config = VllmGeneratorConfig(kind="vllm", model=str(tiny_llm), max_new_tokens=16,
                                 **vllm_settings())  # fmt: skip
    generator = make_generator(config)
    pieces: list[str] = []
    streamed = generator.stream(REQUEST, pieces.append)
    assert len(pieces) >= 2  # handed over as decoded, not at the end
    assert streamed.tokens_in > 0 and len(pieces) <= streamed.tokens_out <= 16
    (whole,) = generator.generate([REQUEST])  # the engine serves batches again afterwards
    assert 0 < whole.tokens_out <= 16


def test_transformers_generator_decodes_a_batch_on_cuda(tiny_llm):
    config = TransformersGeneratorConfig(kind="transformers", model=str(tiny_llm),
                                         device="cuda", max_new_tokens=8)  # fmt: skip
    generations = make_generator(config).generate([REQUEST] * 4)
    assert len(generations) == 4 and all(0 < g.tokens_out <= 8 for g in generations)
    assert len({g.text for g in generations}) == 1  # greedy: identical prompts, identical text
