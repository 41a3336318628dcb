import os

import pytest

from raygate.agent.generators import GenerationRequest, make_generator
from raygate.config import VllmGeneratorConfig


@pytest.mark.skipif(
    "RAYGATE_VLLM_MODEL" not in os.environ, reason="set RAYGATE_VLLM_MODEL to a local model"
)
def test_vllm_generator_answers_with_engine_token_counts():
    config = VllmGeneratorConfig(
        kind="vllm", model=os.environ["RAYGATE_VLLM_MODEL"], max_new_tokens=16, max_model_len=2048
    )
    generator = make_generator(config)
    request = GenerationRequest("2+2?", "Answer briefly.", "What is 2 + 2?", ())
    (first,), (second,) = generator.generate([request]), generator.generate([request])
    assert first.text and first.tokens_in > 0 and 0 < first.tokens_out <= 16
    assert second.tokens_cached > 0  # prefix caching reused the identical prompt
