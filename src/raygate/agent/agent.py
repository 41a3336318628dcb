"""The reference agent's answer path: retrieve → render prompt → generate → output row."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from raygate.agent.generators import GenerationRequest, Generator
from raygate.agent.prompts import PromptTemplate
from raygate.agent.retrieval import BM25Retriever
from raygate.config import AgentConfig
from raygate.schemas import PredictInput, PredictOutput


class ReferenceAgent:
    """Answers request rows; one failing row records its error and never fails the batch."""

    def __init__(
        self,
        config: AgentConfig,
        retriever: BM25Retriever,
        prompt: PromptTemplate,
        generator: Generator,
        model_id: str,
    ) -> None:
        self.config = config
        self.model_id = model_id
        self._retriever = retriever
        self._prompt = prompt
        self._generator = generator

    def predict(self, rows: Sequence[PredictInput]) -> list[PredictOutput]:
        return [self._answer(row) for row in rows]

    def _answer(self, row: PredictInput) -> PredictOutput:
        started = time.perf_counter()
        fields = {
            "request_id": row.request_id or f"req-{uuid.uuid4().hex[:16]}",
            "model_id": self.model_id,
            "prompt_id": self._prompt.prompt_id,
            "trace_id": uuid.uuid4().hex,
            "refused": False,
            "safety_flags": [],
        }
        try:
            hits = self._retriever.retrieve(row.query, self.config.retriever.k)
            documents = tuple(hit.document for hit in hits)
            context = "\n\n".join(f"[{doc.id}]\n{doc.text}" for doc in documents)
            system, user = self._prompt.render(question=row.query, context=context)
            request = GenerationRequest(row.query, system, user, documents)
            generation = self._generator.generate([request])[0]
        except Exception as exc:  # a row's failure is data for the caller, not a crash
            return PredictOutput(
                **fields,
                answer="",
                citations=[],
                retrieved_ids=[],
                tokens_in=None,
                tokens_out=None,
                cost_usd=None,
                latency_ms_total=(time.perf_counter() - started) * 1000,
                error=f"{type(exc).__name__}: {exc}",
            )
        return PredictOutput(
            **fields,
            answer=generation.text,
            citations=list(generation.citations),
            retrieved_ids=[doc.id for doc in documents],
            tokens_in=generation.tokens_in,
            tokens_out=generation.tokens_out,
            cost_usd=generation.cost_usd,
            latency_ms_total=(time.perf_counter() - started) * 1000,
            error=None,
        )
