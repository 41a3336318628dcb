"""A GPU LLM: any chat model run in-process by vLLM (imported only when chosen), with the
engine's own prompt, output and prefix-cache token counts; batches through `LLM.chat`, one
streamed request through the engine's step loop."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Sequence
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
        self._engine_lock = threading.Lock()  # one engine: a batch or a stream at a time

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        conversations = [chat_messages(r, self._config.tools_in_prompt) for r in requests]
        with self._engine_lock:
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

    def stream(self, request: GenerationRequest, on_piece: Callable[[str], None]) -> Generation:
        """One request decoded by the engine's step loop, its new text handed to `on_piece`
        after every step (vLLM's DELTA outputs); an exception from `on_piece` aborts the
        request in the engine and propagates."""
        from vllm.sampling_params import RequestOutputKind

        messages = chat_messages(request, self._config.tools_in_prompt)
        prompt = self._tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        params = self._sampling.clone()
        params.output_kind = RequestOutputKind.DELTA
        request_id = f"raygate-stream-{uuid.uuid4().hex}"
        engine = self._llm.llm_engine
        pieces: list[str] = []
        tokens_in, tokens_out, tokens_cached, finished = 0, 0, 0, False
        with self._engine_lock:
            engine.add_request(request_id, prompt, params)
            try:
                while not finished:
                    for output in engine.step():
                        if output.request_id != request_id:
                            continue
                        tokens_in = len(output.prompt_token_ids or ()) or tokens_in
                        tokens_cached = output.num_cached_tokens or tokens_cached
                        delta = output.outputs[0]
                        tokens_out += len(delta.token_ids)
                        if delta.text:
                            pieces.append(delta.text)
                            on_piece(delta.text)
                        finished = output.finished
                    if not finished and not engine.has_unfinished_requests():
                        raise GeneratorError("vLLM dropped the streamed request unfinished")
            except BaseException:
                engine.abort_request([request_id])
                raise
        return reply_to_generation(
            "".join(pieces).strip(), request, tokens_in=tokens_in, tokens_out=tokens_out,
            tokens_cached=tokens_cached,
        )  # fmt: skip
