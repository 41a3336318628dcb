"""A plain LLM served by Ray Serve LLM (`ray.serve.llm:build_openai_app`), built from the same
vLLM settings the agent's in-process generator uses: one source for both ways of serving it."""

from __future__ import annotations

from typing import Any

from raygate.agent.generators.vllm_gen import engine_args
from raygate.config import VllmGeneratorConfig
from raygate.errors import ConfigError

LLM_APP_IMPORT_PATH = "ray.serve.llm:build_openai_app"
DEFAULT_AUTOSCALING = {"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 32}


def llm_config(
    generator: VllmGeneratorConfig,
    model_id: str,
    autoscaling: dict[str, Any] | None = None,
    accelerator_type: str | None = None,
) -> dict[str, Any]:
    """One entry of `llm_configs` (Ray's LLMConfig as a dict): the generator's model and its
    engine settings; `model_id` is the name OpenAI clients send."""
    engine = {k: v for k, v in engine_args(generator, seed=0).items() if k not in ("model", "seed")}
    config: dict[str, Any] = {
        "model_loading_config": {"model_id": model_id, "model_source": generator.model},
        "deployment_config": {"autoscaling_config": autoscaling or dict(DEFAULT_AUTOSCALING)},
        "engine_kwargs": engine,
    }
    if accelerator_type:
        config["accelerator_type"] = accelerator_type
    return config


def llm_application(name: str, route_prefix: str, configs: list[dict[str, Any]]) -> dict[str, Any]:
    """A Serve application entry serving `configs` behind an OpenAI-compatible API."""
    return {
        "name": name,
        "route_prefix": route_prefix,
        "import_path": LLM_APP_IMPORT_PATH,
        "args": {"llm_configs": configs},
    }


def validate_llm_config(config: dict[str, Any]) -> None:
    """Check an `llm_configs` entry with Ray's own LLMConfig model (importable without vLLM
    from its module; `ray.serve.llm` itself needs vLLM); a problem is a ConfigError."""
    import pydantic
    from ray.llm._internal.serve.core.configs.llm_config import LLMConfig

    try:
        LLMConfig.model_validate(config)
    except pydantic.ValidationError as exc:
        model = config.get("model_loading_config", {}).get("model_id", "?")
        raise ConfigError(f"LLM config for {model!r}: {exc}") from None
