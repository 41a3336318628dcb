"""The vLLM generator at the config level: engine arguments, the missing-vLLM error, and the
mapping of vLLM's outputs (a stand-in `vllm` module; the real engine runs in tests/gpu)."""

import sys
import types
from dataclasses import dataclass, field

import pytest
from pydantic import ValidationError

from raygate.agent.corpus import Document
from raygate.agent.generators import GenerationRequest, make_generator
from raygate.agent.generators.vllm_gen import engine_args
from raygate.config import AgentConfig, VllmGeneratorConfig
from raygate.errors import GeneratorError
from raygate.packaging.build import pip_requirements

CONFIG = VllmGeneratorConfig(kind="vllm", model="/models/qwen2.5-0.5b-instruct", max_model_len=4096)


def test_engine_args_come_from_the_config_alone():
    args = engine_args(CONFIG, seed=7)
    assert args == {
        "model": "/models/qwen2.5-0.5b-instruct",
        "dtype": "auto",
        "gpu_memory_utilization": 0.85,
        "tensor_parallel_size": 1,
        "enable_prefix_caching": True,
        "seed": 7,
        "max_model_len": 4096,
    }
    assert "max_model_len" not in engine_args(CONFIG.model_copy(update={"max_model_len": None}), 0)


def test_bad_vllm_settings_are_named():
    with pytest.raises(ValidationError, match="gpu_memory_utilization"):
        VllmGeneratorConfig(kind="vllm", model="m", gpu_memory_utilization=1.5)
    with pytest.raises(ValidationError, match="model"):
        VllmGeneratorConfig(kind="vllm", model="")


@pytest.mark.skipif("vllm" in sys.modules, reason="vLLM is installed")
def test_without_vllm_the_error_says_what_to_install():
    with pytest.raises(GeneratorError, match=r"raygate\[gpu\]"):
        make_generator(CONFIG)


def test_an_agent_on_vllm_asks_for_the_gpu_extra():
    config = AgentConfig.model_validate(
        {"name": "g", "prompt": {"id": "grounded-answer", "version": 3},
         "generator": CONFIG.model_dump(), "fallback": {"kind": "extractive"}}
    )  # fmt: skip
    assert pip_requirements(config, "3.17.2")[0].startswith("raygate[gpu]==")


@dataclass
class _Completion:
    text: str
    token_ids: list[int]


@dataclass
class _RequestOutput:
    prompt_token_ids: list[int]
    outputs: list[_Completion]
    num_cached_tokens: int | None = None


@dataclass
class _FakeLLM:
    kwargs: dict
    seen: list = field(default_factory=list)

    def __init__(self, **kwargs):
        self.kwargs, self.seen = kwargs, []

    def get_tokenizer(self):
        return types.SimpleNamespace(encode=lambda text, add_special_tokens: text.split())

    def chat(self, conversations, sampling, use_tqdm):
        self.seen.append((conversations, sampling))
        return [
            _RequestOutput([1] * 12, [_Completion(" 30 days [pol-1]", [5, 6, 7])], 8),
            _RequestOutput([1] * 9, [_Completion('{"tool": "calculate", "arguments": '
                                                 '{"expression": "2*3"}}', [1] * 14)]),
        ]  # fmt: skip


def test_outputs_become_generations_with_the_engines_token_counts(monkeypatch):
    fake = types.ModuleType("vllm")
    fake.LLM = _FakeLLM
    fake.SamplingParams = lambda **kw: kw
    monkeypatch.setitem(sys.modules, "vllm", fake)
    generator = make_generator(CONFIG, seed=3)
    doc = Document("pol-1", "Returns", "policy", "Return window: 30 days")
    tools = ({"name": "calculate"},)
    answer, call = generator.generate(
        [
            GenerationRequest("q1", "sys", "user", (doc,)),
            GenerationRequest("q2", "sys", "user", (), tools=tools),
        ]
    )
    assert answer.text == "30 days" and answer.citations == ("pol-1",)
    assert (answer.tokens_in, answer.tokens_out, answer.tokens_cached) == (12, 3, 8)
    assert call.tool_calls[0].name == "calculate" and call.tokens_cached == 0
    ((conversations, sampling),) = generator._llm.seen
    assert sampling == {"temperature": 0.0, "max_tokens": 256}
    assert conversations[0][0] == {"role": "system", "content": "sys"}
    assert generator._llm.kwargs["seed"] == 3 and generator.count_tokens("a b c") == 3


class _SamplingParams(types.SimpleNamespace):
    def clone(self):
        return _SamplingParams(**vars(self))


@dataclass
class _Delta:
    text: str
    token_ids: list[int]


@dataclass
class _StepOutput:
    request_id: str
    prompt_token_ids: list[int] | None
    outputs: list[_Delta]
    finished: bool
    num_cached_tokens: int | None = None


class _FakeEngine:
    """vLLM's engine step loop: each step yields the new text of every running request (our
    request interleaved with another one)."""

    def __init__(self, deltas: list[str]) -> None:
        self.deltas, self.added, self.aborted = deltas, [], []

    def add_request(self, request_id, prompt, params):
        self.added.append((request_id, prompt, params))

    def has_unfinished_requests(self) -> bool:
        return bool(self.deltas)

    def step(self):
        (request_id, _, _), text = self.added[-1], self.deltas.pop(0)
        mine = _StepOutput(request_id, [1] * 20, [_Delta(text, [7] * len(text.split()))],
                           finished=not self.deltas, num_cached_tokens=16)  # fmt: skip
        return [_StepOutput("someone-else", [1], [_Delta("noise", [9])], False), mine]

    def abort_request(self, request_ids):
        self.aborted += request_ids


def _streaming_generator(monkeypatch, deltas: list[str]):
    fake, params = types.ModuleType("vllm"), types.ModuleType("vllm.sampling_params")
    fake.LLM, fake.SamplingParams = _FakeLLM, _SamplingParams
    params.RequestOutputKind = types.SimpleNamespace(DELTA="delta")
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", params)
    generator = make_generator(CONFIG)
    generator._llm.llm_engine = _FakeEngine(deltas)
    generator._tokenizer.apply_chat_template = lambda messages, tokenize, add_generation_prompt: (
        f"<chat>{messages[-1]['content']}"
    )
    return generator


def test_a_streamed_request_hands_over_each_steps_new_text(monkeypatch):
    generator = _streaming_generator(monkeypatch, ["30", " days", " [pol-1]"])
    doc = Document("pol-1", "Returns", "policy", "Return window: 30 days")
    pieces: list[str] = []
    generation = generator.stream(GenerationRequest("q1", "sys", "user", (doc,)), pieces.append)
    assert pieces == ["30", " days", " [pol-1]"]  # the other request's text never leaks in
    assert generation.text == "30 days" and generation.citations == ("pol-1",)
    assert (generation.tokens_in, generation.tokens_out, generation.tokens_cached) == (20, 3, 16)
    ((request_id, prompt, params),) = generator._llm.llm_engine.added
    assert request_id.startswith("raygate-stream-") and prompt.startswith("<chat>")
    assert params.output_kind == "delta" and params.max_tokens == 256
    assert not hasattr(generator._sampling, "output_kind")  # the batches' stay whole
    assert generator._llm.llm_engine.aborted == []


def test_a_reader_that_fails_aborts_the_request_and_frees_the_engine(monkeypatch):
    generator = _streaming_generator(monkeypatch, ["a", "b", "c"])

    def hang_up(piece: str) -> None:
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        generator.stream(GenerationRequest("q", "sys", "user", ()), hang_up)
    engine = generator._llm.llm_engine
    assert engine.aborted == [engine.added[0][0]]
    assert generator._engine_lock.acquire(blocking=False)  # released for the next request
