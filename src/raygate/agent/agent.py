"""The reference agent's answer path: rate limit → input guard → RAG → generate →
output guard → accounting and retrieval figures, one output row per request."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import StatusCode

from raygate.agent.generators import GenerationRequest, Generator, make_generator
from raygate.agent.generators.batching import BatchingGenerator
from raygate.agent.loop import ControllerLoop, LoopLimits
from raygate.agent.prompts import PromptTemplate
from raygate.agent.rag import RagPipeline, RagResult
from raygate.agent.safety import refusal_answer, screen_input, screen_output
from raygate.agent.streaming import AnswerStream
from raygate.agent.tools import Toolbox, reference_tools
from raygate.config import AgentConfig
from raygate.limits import RateLimiter
from raygate.rag_metrics import context_precision, context_use_rate, hit_at_k
from raygate.schemas import PredictInput, PredictOutput
from raygate.telemetry import semconv
from raygate.telemetry.prices import request_cost_usd
from raygate.telemetry.tracing import (
    parent_context,
    row_parents,
    set_known,
    trace_id_of,
    tracer,
)


class ReferenceAgent:
    """Answers request rows; one failing row records its error and never fails the batch."""

    def __init__(
        self,
        config: AgentConfig,
        rag: RagPipeline,
        prompt: PromptTemplate,
        generator: Generator,
        model_id: str,
    ) -> None:
        self.config = config
        self.model_id = model_id
        self._rag = rag
        self._prompt = prompt
        # An LLM decodes concurrent rows together: each row's loop runs in its own thread.
        self._concurrency = getattr(config.generator, "batch_size", 1)
        if self._concurrency > 1:
            generator = BatchingGenerator(generator, max_batch_size=self._concurrency)
        fallback = config.fallback and (
            config.fallback.kind,
            make_generator(config.fallback, config.seed),
        )
        self._loop = ControllerLoop(
            generator=generator,
            toolbox=Toolbox(reference_tools(rag.search, rag.documents), config.tools),
            limits=LoopLimits(**config.loop.model_dump()),
            fallback=fallback or None,
            model=(
                config.generator.kind,
                getattr(config.generator, "model", config.generator.kind),
            ),
        )
        self._prices = config.pricing.prices()
        limit = config.safety.rate_limit
        self._limiter = RateLimiter.from_config(limit) if limit else None

    def predict(self, rows: Sequence[PredictInput]) -> list[PredictOutput]:
        """One output per row; row i's trace continues the parent a Serve replica handed
        over for it, else the row's `traceparent`, else starts anew."""
        parents = row_parents(len(rows)) or [parent_context(row.traceparent) for row in rows]
        if self._concurrency == 1 or len(rows) == 1:
            return [self._answer(row, parent) for row, parent in zip(rows, parents, strict=True)]
        with ThreadPoolExecutor(max_workers=self._concurrency) as pool:
            return list(pool.map(self._answer, rows, parents))

    def predict_stream(self, row: PredictInput, emit: Callable[[str], None]) -> PredictOutput:
        """One request whose answer is handed to `emit` piece by piece while its final step
        decodes (whole, at the end, when the generator cannot stream); returns its output row.
        `emit` raising stops the generation (the client went away)."""
        stream = AnswerStream(emit, redact_pii=self.config.safety.redact_pii)
        (parent,) = row_parents(1) or [parent_context(row.traceparent)]
        return self._answer(row, parent, stream)

    def _answer(
        self, row: PredictInput, parent: Context | None, stream: AnswerStream | None = None
    ) -> PredictOutput:
        started = time.perf_counter()
        attributes = {
            semconv.OPERATION: "invoke_agent",
            semconv.AGENT_NAME: self.config.name,
            semconv.MODEL_ID: self.model_id,
            semconv.PROMPT_ID: self._prompt.prompt_id,
        }
        name = f"invoke_agent {self.config.name}"
        with tracer().start_as_current_span(name, parent, attributes=attributes) as span:
            common = {
                "request_id": row.request_id or f"req-{uuid.uuid4().hex[:16]}",
                "model_id": self.model_id,
                "prompt_id": self._prompt.prompt_id,
                "trace_id": trace_id_of(span, parent),
                "retriever_k": self.config.retriever.k,
            }
            try:
                fields = self._guarded(row, stream)
            except Exception as exc:  # a row's failure is data for the caller, not a crash
                fields = _empty("error", error=f"{type(exc).__name__}: {exc}")
            output = PredictOutput(
                **common, **fields, latency_ms_total=(time.perf_counter() - started) * 1000
            )
            _describe(span, output)
        if stream is not None:
            stream.finish(output.answer)  # the rest of the answer, or all of it
        return output

    def _guarded(self, row: PredictInput, stream: AnswerStream | None) -> dict[str, Any]:
        safety = self.config.safety
        with tracer().start_as_current_span("preproc"):
            if self._limiter is not None:
                wait_s = self._limiter.retry_after_s(row.user_id)
                if wait_s > 0:
                    error = f"rate_limited: retry after {wait_s:.1f} s"
                    return _empty("rate_limited", flags=["rate_limited"], error=error)
            verdict = screen_input(row.query, safety.refuse_disallowed, safety.redact_pii)
            flags = list(verdict.flags)
            if verdict.refused_category is not None:
                answer = refusal_answer(verdict.refused_category)
                return _empty("refused", answer=answer, refused=True, flags=flags, cost=0.0)
        rag = self._rag.run(verdict.text)
        fields = self._generate(verdict.text, rag, stream)
        with tracer().start_as_current_span("postproc"):
            claimed = "" if fields["finish_reason"] != "answer" else fields["answer"]
            retrieved_ids = [doc.id for doc in rag.retrieved]
            fields |= {
                "retrieved_ids": retrieved_ids,
                "context_ids": [doc.id for doc in rag.context_documents],
                "hit_at_k": hit_at_k(retrieved_ids, row.relevant_ids),
                "context_precision": context_precision(retrieved_ids, row.relevant_ids),
                "context_use_rate": context_use_rate(claimed, rag.context),
                "refused": False,
            }
        if safety.redact_pii:
            with tracer().start_as_current_span("safety"):
                fields["answer"], output_flags = screen_output(fields["answer"])
                flags += output_flags
        return {**fields, "safety_flags": flags}

    def _generate(self, query: str, rag: RagResult, stream: AnswerStream | None) -> dict[str, Any]:
        system, user = self._prompt.render(question=query, context=rag.context)
        started = time.perf_counter()
        request = GenerationRequest(query, system, user, rag.context_documents)
        result = self._loop.run(request, stream)
        compute_s = time.perf_counter() - started
        generation = result.generation
        cached = generation.tokens_cached if generation else None
        fields = {
            "tokens_in": result.tokens_in,
            "tokens_out": result.tokens_out,
            "tokens_cached": cached,
            "cost_usd": request_cost_usd(
                self._prices, result.tokens_in, result.tokens_out, cached, compute_s
            ),
            "steps": result.steps,
            "tool_calls": [
                f"{r.call.name}({json.dumps(r.call.arguments, sort_keys=True)})"
                for r in result.tool_results
            ],
            "fallback": result.fallback,
            "latency_ms_llm": result.llm_ms,
        }
        if generation is None:  # a loop limit ended the request: recorded, never raised
            error = f"{result.outcome}: {result.detail}"
            return {
                **fields,
                "answer": "",
                "citations": [],
                "finish_reason": result.outcome,
                "error": error,
            }
        return {
            **fields,
            "answer": generation.text,
            "citations": list(generation.citations),
            "finish_reason": "abstain" if generation.abstained else "answer",
            "error": None,
        }


def _empty(
    finish_reason: str,
    answer: str = "",
    refused: bool = False,
    flags: list[str] | None = None,
    error: str | None = None,
    cost: float | None = None,
) -> dict[str, Any]:
    """Output fields of a request that never reached the generator."""
    known = cost is not None  # a refusal is known to cost nothing; an error's cost is unknown
    return {
        "answer": answer,
        "citations": [],
        "retrieved_ids": [],
        "context_ids": [],
        "hit_at_k": None,
        "context_precision": None,
        "context_use_rate": None,
        "refused": refused,
        "safety_flags": flags or [],
        "tokens_in": 0 if known else None,
        "tokens_out": 0 if known else None,
        "tokens_cached": 0 if known else None,
        "cost_usd": cost,
        "finish_reason": finish_reason,
        "steps": 0,
        "tool_calls": [],
        "fallback": None,
        "latency_ms_llm": None,
        "error": error,
    }


def _describe(span, output: PredictOutput) -> None:
    """The request's outcome on its root span: usage, cost, finish reason, safety flags."""
    set_known(span, {
        semconv.INPUT_TOKENS: output.tokens_in,
        semconv.OUTPUT_TOKENS: output.tokens_out,
        semconv.CACHED_TOKENS: output.tokens_cached,
        semconv.COST_USD: output.cost_usd,  # absent, never 0, when the model is unpriced
        semconv.FINISH_REASON: output.finish_reason,
        semconv.SAFETY_FLAGS: output.safety_flags or None,
    })  # fmt: skip
    if output.error is not None:
        span.set_status(StatusCode.ERROR, output.finish_reason)
