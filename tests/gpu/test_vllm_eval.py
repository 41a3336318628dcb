"""Batch eval through `ray.data.llm`'s vLLM engine on the tiny model."""

import pytest

from raygate.evaluation.engines import LlmEngineOptions
from raygate.evaluation.pipeline import PipelineOptions
from raygate.evaluation.runner import evaluate
from tests.gpu.conftest import vllm_settings


def test_vllm_engine_answers_the_smoke_set(local_ray, registry, tiny_llm):
    pytest.importorskip("vllm")
    engine = LlmEngineOptions(kind="vllm", model=str(tiny_llm), max_tokens=8,
                              engine_kwargs=vllm_settings())  # fmt: skip
    result = evaluate("tiny-llm", "smoke", registry, PipelineOptions(num_gpus=1), engine=engine)
    assert result.metrics.values["rows"] == 30 and result.metrics.values["error_rate"] == 0
    assert result.metrics.values["tokens_out_per_request"] > 0
