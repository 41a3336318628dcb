import os

import pytest

from raygate.evaluation.engines import LlmEngineOptions
from raygate.evaluation.pipeline import PipelineOptions
from raygate.evaluation.runner import evaluate


@pytest.mark.skipif(
    "RAYGATE_VLLM_MODEL" not in os.environ, reason="set RAYGATE_VLLM_MODEL to a local model"
)
def test_vllm_engine_answers_the_smoke_set(local_ray, registry):
    engine = LlmEngineOptions(kind="vllm", model=os.environ["RAYGATE_VLLM_MODEL"], max_tokens=32)
    result = evaluate("vllm-smoke", "smoke", registry, PipelineOptions(num_gpus=1), engine=engine)
    assert result.metrics.values["rows"] == 30 and result.metrics.values["error_rate"] == 0
    assert result.metrics.values["tokens_out_per_request"] > 0
