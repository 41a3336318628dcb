"""LLM engines for batch eval through Ray's own `ray.data.llm`: vLLM on GPUs, or any
OpenAI-compatible endpoint over HTTP. Imported lazily: vLLM exists only on GPU machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from raygate.errors import ConfigError
from raygate.schemas import StrictModel, load_yaml_model
from raygate.secrets import get_secret

DEFAULT_SYSTEM_PROMPT = (
    'Answer the question briefly. If you do not know the answer, reply exactly "I don\'t know."'
)


class LlmEngineOptions(StrictModel):
    """How a served LLM is driven by a Ray Data batch stage."""

    kind: Literal["vllm", "http"] = Field(description="'vllm' (in-cluster GPUs) or 'http'.")
    model: str = Field(min_length=1, description="vLLM: model path; http: the served model name.")
    url: str | None = Field(None, description="http: chat completions URL of the endpoint.")
    api_key_env: str | None = Field(None, description="http: env var holding a bearer token.")
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, description="System message of each request.")
    max_tokens: int = Field(128, ge=1, description="Tokens generated per answer at most.")
    temperature: float = Field(0.0, ge=0, description="Sampling temperature; 0 is greedy.")
    batch_size: int = Field(32, ge=1, description="Rows per engine batch.")
    concurrency: int = Field(1, ge=1, description="Engine replicas (vLLM) or client actors (http).")
    engine_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="vLLM engine arguments."
    )

    @model_validator(mode="after")
    def _http_needs_url(self) -> LlmEngineOptions:
        if self.kind == "http" and not self.url:
            raise ValueError(
                "kind 'http' needs url, e.g. http://127.0.0.1:8000/v1/chat/completions"
            )
        return self


def load_engine_options(path: str | Path) -> LlmEngineOptions:
    """Read and validate an engine YAML file."""
    return load_yaml_model(
        path, LlmEngineOptions, ConfigError, "pass an engine config such as engines/http.yaml"
    )


def processor_config(options: LlmEngineOptions):
    """The `ray.data.llm` processor config for these options."""
    from ray.data import llm

    if options.kind == "vllm":
        return llm.vLLMEngineProcessorConfig(
            model_source=options.model,
            engine_kwargs=options.engine_kwargs,
            batch_size=options.batch_size,
            concurrency=options.concurrency,
        )
    headers = {"Content-Type": "application/json"}
    if options.api_key_env:
        headers["Authorization"] = f"Bearer {get_secret(options.api_key_env) or ''}"
    return llm.HttpRequestProcessorConfig(
        url=options.url,
        headers=headers,
        batch_size=options.batch_size,
        concurrency=options.concurrency,
    )


def build_engine_processor(options: LlmEngineOptions):
    """A processor mapping gold lines (`text`) to rows with `text`, `answer` and token counts."""
    import json

    from ray.data.llm import build_processor

    def messages(text: str) -> list[dict[str, str]]:
        query = json.loads(text)["query"]
        return [
            {"role": "system", "content": options.system_prompt},
            {"role": "user", "content": query},
        ]

    if options.kind == "vllm":
        sampling = {"temperature": options.temperature, "max_tokens": options.max_tokens}
        return build_processor(
            processor_config(options),
            preprocess=lambda row: {"text": row["text"], "messages": messages(row["text"]),
                                    "sampling_params": sampling},
            postprocess=lambda row: {"text": row["text"], "answer": row["generated_text"],
                                     "tokens_in": row["num_input_tokens"],
                                     "tokens_out": row["num_generated_tokens"]},
        )  # fmt: skip

    def http_payload(row: dict) -> dict:
        body = {"model": options.model, "messages": messages(row["text"]),
                "max_tokens": options.max_tokens, "temperature": options.temperature}  # fmt: skip
        return {"text": row["text"], "payload": body}

    def http_answer(row: dict) -> dict:
        response = row["http_response"]
        usage = response.get("usage") or {}
        return {
            "text": row["text"],
            "answer": response["choices"][0]["message"]["content"],
            "tokens_in": usage.get("prompt_tokens"),
            "tokens_out": usage.get("completion_tokens"),
        }

    return build_processor(
        processor_config(options), preprocess=http_payload, postprocess=http_answer
    )
