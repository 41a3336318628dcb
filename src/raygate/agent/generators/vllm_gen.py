"""A GPU LLM: any chat model run in-process by vLLM (imported only when chosen), with the
engine's own prompt, output and prefix-cache token counts."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from raygate.agent.generators.base import Generation, GenerationRequest
from raygate.agent.generators.chat import chat_messages, reply_to_generation
from raygate.config import VllmGeneratorConfig
from raygate.errors import GeneratorError


def engine_args(config: VllmGeneratorConfig, seed: int) -> dict[str, Any]:
    """Keyword arguments for vllm.LLM, from the agent config alone."""
    args: dict[str, Any] = {
        "model": config.model,
        "dtype": config.dtype,
        "gpu_memory_utilization": config.gpu_memory_utilization,
        "tensor_parallel_size": config.tensor_parallel_size,
        "enable_prefix_caching": config.enable_prefix_caching,
        "seed": seed,
    }
    if config.max_model_len is not None:
        args["max_model_len"] = config.max_model_len
    return args


class VllmGenerator:
    """Greedy decoding of a batch of chat requests by one vLLM engine on this process's GPU."""

    def __init__(self, config: VllmGeneratorConfig, seed: int = 0) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights must already be on disk
        try:
            from vllm import LLM, SamplingParams
        except ImportError:
            raise GeneratorError(
                "the vllm generator needs an NVIDIA GPU and: pip install 'raygate[gpu]'; "
                "on a CPU machine use generator.kind 'transformers' or 'extractive'"
            ) from None
        self._config = config
        try:
            self._llm = LLM(**engine_args(config, seed))
        except (OSError, ValueError, RuntimeError) as exc:
            raise GeneratorError(f"vLLM could not load {config.model!r}: {exc}") from None
        self._sampling = SamplingParams(temperature=0.0, max_tokens=config.max_new_tokens)
        self._tokenizer = self._llm.get_tokenizer()

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        conversations = [chat_messages(r, self._config.tools_in_prompt) for r in requests]
        outputs = self._llm.chat(conversations, self._sampling, use_tqdm=False)
        return [
            reply_to_generation(
                output.outputs[0].text.strip(),
                request,
                tokens_in=len(output.prompt_token_ids),
                tokens_out=len(output.outputs[0].token_ids),
                tokens_cached=output.num_cached_tokens or 0,
            )
            for output, request in zip(outputs, requests, strict=True)
        ]
