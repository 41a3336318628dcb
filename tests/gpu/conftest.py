"""GPU tests reuse the integration fixtures (a local Ray, a real MLflow store) and build their
own tiny model: nothing to set up but the GPU."""

from pathlib import Path

import pytest

from tests.integration.conftest import local_ray, raygate_home, registry  # noqa: F401


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory) -> Path:
    """A random-weight Llama-architecture chat model with SmolLM2's tokenizer (see
    raygate.testing.tiny_llm): loads in transformers and vLLM, downloads nothing."""
    from raygate.testing.tiny_llm import build_tiny_llm

    return build_tiny_llm(tmp_path_factory.mktemp("tiny-llm"))


def vllm_settings() -> dict:
    """Engine settings small enough to share one GPU with the other tests."""
    return {"max_model_len": 2048, "gpu_memory_utilization": 0.3}
