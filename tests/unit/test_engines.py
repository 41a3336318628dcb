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


@pytest.mark.parametrize(
    ("response", "text"),
    [
        ({"choices": [{"message": {"role": "assistant", "content": "60 days"}}]}, "60 days"),
        ({"choices": [{"message": {"role": "assistant", "content": None}}]}, ""),
        ({"error": {"message": "maximum context length is 8"}}, None),
        ({"object": "error", "message": "model not found"}, None),
        ({"choices": []}, None),
    ],
)
def test_a_reply_is_told_from_an_error_body(response, text):
    from raygate.evaluation.engines import error_text, reply_text

    assert reply_text(response) == text
    if text is None:
        assert error_text(response) in str(response) and error_text(response)


def test_a_ray_task_error_names_where_the_failure_began():
    from raygate.evaluation.runner import root_cause

    remote = RuntimeError(
        '  File "stage.py", line 195, in udf\n    resp_json = await response.json()\n'
        "aiohttp.client_exceptions.ContentTypeError: 200, message='unexpected mimetype'\n\n"
        "The above exception was the direct cause of the following exception:\n\n"
        "ray.exceptions.UserCodeException: UDF failed to process a data block."
    )
    assert root_cause(remote) == "ContentTypeError: 200, message='unexpected mimetype'"
    assert root_cause(ValueError("no traceback")) == "ValueError: no traceback"


def test_an_openai_sdk_base_url_reaches_its_chat_completions():
    for url in ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/llm/v1/"):
        options = LlmEngineOptions(kind="http", model="m", url=url)
        assert options.url == url.rstrip("/") + "/chat/completions"
    full = "http://127.0.0.1:8000/v1/chat/completions"
    assert LlmEngineOptions(kind="http", model="m", url=full).url == full
