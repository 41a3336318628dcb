"""Answer engines behind one protocol, chosen by the agent config's `generator.kind`."""

from raygate.agent.generators.base import Generation, GenerationRequest, Generator
from raygate.agent.generators.extractive import ExtractiveGenerator
from raygate.config import GeneratorConfig


def make_generator(config: GeneratorConfig, seed: int = 0) -> Generator:
    """The generator a config names; heavy engines are imported only when chosen."""
    if config.kind == "transformers":
        from raygate.agent.generators.transformers_gen import TransformersGenerator

        return TransformersGenerator(config)
    if config.kind == "openai":
        from raygate.agent.generators.openai_gen import OpenAIGenerator

        return OpenAIGenerator(config)
    if config.kind == "vllm":
        from raygate.agent.generators.vllm_gen import VllmGenerator

        return VllmGenerator(config, seed)
    return ExtractiveGenerator(config)


__all__ = ["ExtractiveGenerator", "Generation", "GenerationRequest", "Generator", "make_generator"]
