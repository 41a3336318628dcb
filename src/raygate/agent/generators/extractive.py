"""Deterministic extractive generator: answers with the best-matching 'Field: value' fact, and
plans with its tools (calculate, search_documents) when the question needs them."""

from __future__ import annotations

from collections.abc import Sequence

from raygate.agent.corpus import Document
from raygate.agent.generators.base import Generation, GenerationRequest
from raygate.agent.generators.tool_planner import ToolPlanner, plan_generation
from raygate.config import ExtractiveGeneratorConfig
from raygate.constants import ABSTAIN_ANSWER
from raygate.text import content_tokens, tokenize


def _overlap(query_words: set[str], text: str) -> float:
    words = set(content_tokens(text))
    return len(words & query_words) / len(words) if words else 0.0


class ExtractiveGenerator:
    """Picks the fact whose field and document title best match the query, or abstains.

    It needs no weights and no network, so it is the CI default and the baseline every
    other generator must beat. Tokens are counted with raygate's word tokenizer.
    """

    def __init__(self, config: ExtractiveGeneratorConfig) -> None:
        self._config = config
        self._planner = ToolPlanner(_overlap, config.min_subject_overlap, config.min_field_overlap)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [self._answer(request) for request in requests]

    def count_tokens(self, text: str) -> int:
        return len(tokenize(text))

    def _answer(self, request: GenerationRequest) -> Generation:
        step = self._planner.next_step(request) if request.tools else None
        if step is not None:
            return plan_generation(step, request, self.count_tokens)
        best = self._best_fact(set(content_tokens(request.query)), request.documents)
        if best is None:
            text, citations, abstained = ABSTAIN_ANSWER, (), True
        else:
            text, citations, abstained = best[1], (best[0].id,), False
        return Generation(
            text=text,
            citations=citations,
            abstained=abstained,
            tokens_in=self.count_tokens(request.system) + self.count_tokens(request.user),
            tokens_out=self.count_tokens(text),
        )

    def _best_fact(
        self, query_words: set[str], documents: Sequence[Document]
    ) -> tuple[Document, str] | None:
        best: tuple[float, Document, str] | None = None
        for doc in documents:
            subject = _overlap(query_words, doc.title)
            if subject < self._config.min_subject_overlap:
                continue
            for fact in doc.facts:
                field = _overlap(query_words, fact.field)
                if field < self._config.min_field_overlap:
                    continue
                # Strictly greater: earlier documents and facts win ties (deterministic).
                if best is None or subject + field > best[0]:
                    best = (subject + field, doc, fact.value)
        return None if best is None else (best[1], best[2])
