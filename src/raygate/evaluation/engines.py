"""LLM engines for batch eval through Ray's own `ray.data.llm`: vLLM on GPUs, or any
OpenAI-compatible endpoint over HTTP. Imported lazily: vLLM exists only on GPU machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

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

    @field_validator("url")
    @classmethod
    def _chat_completions(cls, url: str | None) -> str | None:
        """An openai SDK's base_url (…/v1) means its chat completions."""
        if url and url.rstrip("/").endswith("/v1"):
            return url.rstrip("/") + "/chat/completions"
        return url


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
    return llm.HttpRequestProcessorConfig(
        url=options.url,
        headers=_headers(options),
        batch_size=options.batch_size,
        concurrency=options.concurrency,
    )


def _headers(options: LlmEngineOptions) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if options.api_key_env:
        headers["Authorization"] = f"Bearer {get_secret(options.api_key_env) or ''}"
    return headers


def _messages(options: LlmEngineOptions, query: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": options.system_prompt},
        {"role": "user", "content": query},
    ]


def _http_body(options: LlmEngineOptions, query: str) -> dict[str, Any]:
    return {"model": options.model, "messages": _messages(options, query),
            "max_tokens": options.max_tokens, "temperature": options.temperature}  # fmt: skip


def reply_text(response: Any) -> str | None:
    """choices[0].message.content of a chat completion ("" for a reply without text), or
    None when the body is not one (an error body)."""
    try:
        message = response["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return None
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else ""


def error_text(response: Any) -> str:
    """What an error body says: OpenAI's error.message, or another server's message/detail."""
    if isinstance(response, dict):
        error = response.get("error")
        for said in (error.get("message") if isinstance(error, dict) else error,
                     response.get("message"), response.get("detail")):  # fmt: skip
            if said:
                return str(said)[:300]
    return str(response)[:300]


def check_http_endpoint(options: LlmEngineOptions, query: str, timeout_s: float = 120.0) -> None:
    """Send one gold query as the eval will, before any work: an endpoint that is down,
    refuses the token, serves no such model or does not answer as OpenAI's chat completions
    is a ConfigError saying what to fix (not a failed batch job and an empty MLflow run)."""
    import requests

    url = options.url or ""
    try:
        response = requests.post(url, json=_http_body(options, query),
                                 headers=_headers(options), timeout=timeout_s)  # fmt: skip
    except requests.RequestException as exc:
        raise ConfigError(
            f"the engine's endpoint {url} did not answer ({type(exc).__name__}): start it, or "
            "fix url in the engine file"
        ) from None
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if response.ok and reply_text(body) is not None:
        return
    said = error_text(body)
    if response.status_code in (401, 403):
        env = options.api_key_env
        fix = (f"set ${env} to a token it accepts" if env and get_secret(env)
               else f"${env} is not set: export it" if env
               else "it wants a token: name its variable as api_key_env in the engine file "
                    "and export it")  # fmt: skip
    elif response.status_code == 404:
        fix = (f"url must be its chat completions URL (…/v1/chat/completions) and model "
               f"({options.model!r}) one it serves (GET …/v1/models)")  # fmt: skip
    elif response.ok:
        fix = "it does not answer as an OpenAI chat completions endpoint (no choices[0].message)"
    else:
        fix = "fix the engine file, or the endpoint"
    raise ConfigError(f"the engine's endpoint {url} answered HTTP {response.status_code}: "
                      f"{said}; {fix}")  # fmt: skip


def build_engine_processor(options: LlmEngineOptions):
    """A processor mapping gold lines (`text`) to rows with `text`, `answer` and token counts."""
    import json

    from ray.data.llm import build_processor

    def query(text: str) -> str:
        return json.loads(text)["query"]

    if options.kind == "vllm":
        sampling = {"temperature": options.temperature, "max_tokens": options.max_tokens}
        return build_processor(
            processor_config(options),
            preprocess=lambda row: {"text": row["text"],
                                    "messages": _messages(options, query(row["text"])),
                                    "sampling_params": sampling},
            postprocess=lambda row: {"text": row["text"], "answer": row["generated_text"],
                                     "tokens_in": row["num_input_tokens"],
                                     "tokens_out": row["num_generated_tokens"]},
        )  # fmt: skip

    def http_payload(row: dict) -> dict:
        return {"text": row["text"], "payload": _http_body(options, query(row["text"]))}

    def http_answer(row: dict) -> dict:
        """A reply, or a failed row: Ray's stage passes on a 4xx/500 body as the response
        (e.g. one gold query longer than the model's context)."""
        response = row["http_response"]
        answer = reply_text(response)
        usage = (response.get("usage") if isinstance(response, dict) else None) or {}
        return {
            "text": row["text"],
            "answer": answer or "",
            "tokens_in": usage.get("prompt_tokens"),
            "tokens_out": usage.get("completion_tokens"),
            "error": None if answer is not None else f"the endpoint: {error_text(response)}",
        }

    return build_processor(
        processor_config(options), preprocess=http_payload, postprocess=http_answer
    )
