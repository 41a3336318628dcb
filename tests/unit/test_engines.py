from pathlib import Path

import pytest

from raygate.errors import ConfigError
from raygate.evaluation.engines import LlmEngineOptions, load_engine_options, processor_config

ENGINES = Path(__file__).resolve().parents[2] / "engines"


def test_shipped_engine_configs_load():
    assert load_engine_options(ENGINES / "vllm.yaml").kind == "vllm"
    assert load_engine_options(ENGINES / "http.yaml").url.endswith("/v1/chat/completions")


def test_vllm_config_carries_model_engine_args_and_batching():
    config = processor_config(load_engine_options(ENGINES / "vllm.yaml"))
    assert type(config).__name__ == "vLLMEngineProcessorConfig"
    assert config.model_source == "/models/Qwen2.5-1.5B-Instruct"
    assert config.engine_kwargs["max_model_len"] == 4096 and config.batch_size == 32


def test_http_config_reads_the_token_from_the_environment(monkeypatch):
    monkeypatch.setenv("RAYGATE_LLM_API_KEY", "s3cret")
    config = processor_config(load_engine_options(ENGINES / "http.yaml"))
    assert config.headers["Authorization"] == "Bearer s3cret" and config.concurrency == 2


def test_http_engine_needs_a_url():
    with pytest.raises(ValueError, match="needs url"):
        LlmEngineOptions(kind="http", model="m")


def test_bad_engine_file_is_one_clear_error(tmp_path):
    path = tmp_path / "engine.yaml"
    path.write_text("kind: tgi\nmodel: m\n")
    with pytest.raises(ConfigError, match=r"engine.yaml:1: field 'kind'"):
        load_engine_options(path)
