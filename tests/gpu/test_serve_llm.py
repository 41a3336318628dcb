"""The plain-LLM app of serve_configs/gpu-vllm.yaml, built by raygate from a vLLM generator
config, served by Ray Serve LLM and asked through the official openai client."""

import pytest

from raygate.config import VllmGeneratorConfig
from raygate.serving.llm_app import llm_config, validate_llm_config
from raygate.testing import free_port
from tests.gpu.conftest import vllm_settings


def test_ray_serve_llm_serves_the_generated_config_to_an_openai_client(local_ray, tiny_llm):
    pytest.importorskip("vllm")
    import openai
    from ray import serve
    from ray.serve.llm import build_openai_app

    generator = VllmGeneratorConfig(kind="vllm", model=str(tiny_llm), **vllm_settings())
    config = llm_config(generator, "tiny-llm", autoscaling={"min_replicas": 1, "max_replicas": 1})
    validate_llm_config(config)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        serve.run(build_openai_app({"llm_configs": [config]}), name="llm", route_prefix="/llm")
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/llm/v1", api_key="unused")
        answer = client.chat.completions.create(
            model="tiny-llm", messages=[{"role": "user", "content": "hi"}], max_tokens=8
        )
        assert isinstance(answer.choices[0].message.content, str)
        assert 0 < answer.usage.completion_tokens <= 8
    finally:
        serve.shutdown()
