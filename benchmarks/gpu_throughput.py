"""GPU throughput of raygate's transformers generator against a plain batched `generate` loop,
side by side in one process on the same model and prompts: output tokens/s of each and their
ratio (`ratio_vs_plain`, goal ≥ 0.9: raygate's chat templating, batching and token counting
cost little). The model is a randomly initialised Llama-architecture config with SmolLM2's
tokenizer (raygate.testing.tiny_llm), built on the spot: nothing is downloaded. Both sides
decode greedily with the same max_new_tokens and count only tokens before padding.

Runs only with a CUDA GPU (`--device cpu` runs the same code on the CPU to check it, and says
so in its figures). Usage: python benchmarks/gpu_throughput.py [--quick] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

SCHEMA_VERSION = 1
# A ~100M-parameter decoder: big enough that decoding, not Python, is the work.
MODEL = {"hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12,
         "num_attention_heads": 12, "num_key_value_heads": 4}  # fmt: skip
QUICK_MODEL = {"hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 4,
               "num_attention_heads": 4, "num_key_value_heads": 2}  # fmt: skip


def prompts(count: int) -> list[str]:
    topics = ("return window", "express shipping fee", "kettle warranty", "lamp wattage")
    return [f"Question {i}: what is the {topics[i % len(topics)]}?" for i in range(count)]


def requests(questions: list[str]) -> list:
    from raygate.agent.generators import GenerationRequest

    return [GenerationRequest(q, "Answer briefly.", q, ()) for q in questions]


def plain_loop(folder: Path, questions: list[str], device: str, batch: int, new: int) -> dict:
    """The baseline: tokenizer chat template + model.generate per batch, nothing else."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from raygate.agent.generators.chat import chat_messages

    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).to(device).eval()
    texts = [  # the very messages raygate's generator sends
        tokenizer.apply_chat_template(
            chat_messages(r, False), tokenize=False, add_generation_prompt=True
        )
        for r in requests(questions)
    ]
    produced = 0
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        encoded = tokenizer(texts[start : start + batch], return_tensors="pt", padding=True)
        encoded = encoded.to(device)
        with torch.inference_mode():
            output = model.generate(**encoded, max_new_tokens=new, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id)  # fmt: skip
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        produced += int((new_tokens != tokenizer.pad_token_id).sum())
    _sync(device)
    elapsed = time.perf_counter() - started
    return {"tokens_out": produced, "seconds": elapsed, "tokens_per_s": produced / elapsed}


def through_raygate(folder: Path, questions: list[str], device: str, batch: int, new: int) -> dict:
    """raygate's generator batch API (what the agent calls), on the same model folder."""
    from raygate.agent.generators import make_generator
    from raygate.config import TransformersGeneratorConfig

    config = TransformersGeneratorConfig(kind="transformers", model=str(folder), device=device,
                                         batch_size=batch, max_new_tokens=new)  # fmt: skip
    generator = make_generator(config)
    started = time.perf_counter()
    generations = generator.generate(requests(questions))
    _sync(device)
    elapsed = time.perf_counter() - started
    produced = sum(g.tokens_out for g in generations)
    return {"tokens_out": produced, "seconds": elapsed, "tokens_per_s": produced / elapsed}


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller model and 64 prompts")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    options = parser.parse_args()
    import torch

    if options.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"benchmark": "gpu_throughput", "error": "needs a CUDA GPU (torch sees "
                          "none); --device cpu checks the code path on the CPU"}))  # fmt: skip
        return 1
    from raygate.testing.tiny_llm import build_tiny_llm

    count, batch, new = (64, 16, 32) if options.quick else (512, 64, 128)
    architecture = QUICK_MODEL if options.quick else MODEL
    questions = prompts(count)
    with tempfile.TemporaryDirectory(prefix="raygate-gpu-bench-") as tmp:
        folder = build_tiny_llm(Path(tmp), **architecture)
        plain_loop(folder, questions[:batch], options.device, batch, 4)  # warm-up (kernels)
        plain = plain_loop(folder, questions, options.device, batch, new)
        raygate = through_raygate(folder, questions, options.device, batch, new)
    device = torch.cuda.get_device_name() if options.device == "cuda" else "cpu"
    print(json.dumps({
        "benchmark": "gpu_throughput", "schema_version": SCHEMA_VERSION, "quick": options.quick,
        "device": device, "model": architecture, "prompts": count, "batch_size": batch,
        "max_new_tokens": new, "plain": plain, "raygate": raygate,
        "ratio_vs_plain": raygate["tokens_per_s"] / plain["tokens_per_s"],
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
