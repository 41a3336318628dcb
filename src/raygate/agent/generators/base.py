"""The generator protocol every answer engine implements, with its request and result types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from raygate.agent.corpus import Document
from raygate.agent.tools import ToolCall


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a generator may read: the (redacted) query, the rendered prompt, the
    documents, the tools it may call and what earlier tool calls returned."""

    query: str
    system: str
    user: str
    documents: tuple[Document, ...]
    tools: tuple[dict, ...] = ()
    observations: tuple[str, ...] = ()
    timeout_s: float | None = None  # how long the caller waits; later results are dropped


@dataclass(frozen=True)
class Generation:
    """One answer with its token counts; None means the engine cannot know the figure."""

    text: str
    citations: tuple[str, ...]
    abstained: bool
    tokens_in: int | None
    tokens_out: int | None
    tokens_cached: int | None = 0
    tool_calls: tuple[ToolCall, ...] = ()


class Generator(Protocol):
    """Answers a batch of requests, one Generation per request, in order, and counts tokens
    the way it bills them (context budgets are measured with it)."""

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]: ...

    def count_tokens(self, text: str) -> int: ...


class StreamingGenerator(Generator, Protocol):
    """A generator that can also decode one request while handing its text to `on_piece`
    piece by piece; an exception raised by `on_piece` stops the decoding and propagates."""

    def stream(self, request: GenerationRequest, on_piece: Callable[[str], None]) -> Generation: ...
