"""RAG memory: retrieve (BM25, dense or both fused by reciprocal rank) → rerank → top k →
pack into a context budget counted with the generator's own tokenizer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from raygate.agent.corpus import Document, document_block
from raygate.agent.dense import DenseRetriever
from raygate.agent.retrieval import BM25Retriever, Retrieved
from raygate.config import RetrieverConfig
from raygate.telemetry import semconv
from raygate.telemetry.tracing import tracer
from raygate.text import content_tokens

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class RagResult:
    """What retrieval found (top k, best first) and what of it fits the prompt."""

    retrieved: tuple[Document, ...]
    context_documents: tuple[Document, ...]
    context: str


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Retrieved]], rrf_k: int) -> list[Retrieved]:
    """Cormack et al. (2009): score(d) = Σ 1 / (rrf_k + rank); ties keep first-seen order."""
    scores: dict[str, float] = {}
    documents: dict[str, Document] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            documents.setdefault(hit.document.id, hit.document)
            scores[hit.document.id] = scores.get(hit.document.id, 0.0) + 1.0 / (rrf_k + rank)
    order = sorted(scores, key=lambda doc_id: -scores[doc_id])  # sorted() is stable
    return [Retrieved(documents[doc_id], scores[doc_id]) for doc_id in order]


def rerank_by_title_match(query: str, hits: Sequence[Retrieved]) -> list[Retrieved]:
    """Documents whose title words the query contains (it names them) move up, stably.

    The key is the share of the title's content words found in the query; a query naming
    "Zephyr Mesh Node M-810" puts that product's page first even when a retriever preferred
    a page that repeats the query's other words.
    """
    query_words = set(content_tokens(query))

    def title_share(hit: Retrieved) -> float:
        words = set(content_tokens(hit.document.title))
        return len(words & query_words) / len(words) if words else 0.0

    return sorted(hits, key=lambda hit: -title_share(hit))


def pack_context(
    documents: Sequence[Document], budget_tokens: int | None, count_tokens: TokenCounter
) -> tuple[Document, ...]:
    """Documents in rank order while they fit the budget; the first is cut to fit if needed.

    Stops at the first document that does not fit, so what the prompt holds is always a
    prefix of the ranking (a smaller, lower-ranked page never jumps ahead).
    """
    if budget_tokens is None:
        return tuple(documents)
    packed: list[Document] = []
    used = 0
    for document in documents:
        cost = count_tokens(document_block(document) + "\n\n")
        if used + cost <= budget_tokens:
            packed.append(document)
            used += cost
            continue
        if not packed:
            packed.append(_truncate(document, budget_tokens, count_tokens))
        break
    return tuple(packed)


def _truncate(document: Document, budget_tokens: int, count_tokens: TokenCounter) -> Document:
    """The longest word prefix of the document whose block fits the budget (binary search)."""
    words = document.text.split(" ")
    low, high = 0, len(words)
    while low < high:
        middle = (low + high + 1) // 2
        candidate = replace(document, text=" ".join(words[:middle]))
        if count_tokens(document_block(candidate) + "\n\n") <= budget_tokens:
            low = middle
        else:
            high = middle - 1
    return replace(document, text=" ".join(words[:low]))


class RagPipeline:
    """The configured retrieval stages; `search` also backs the search_documents tool."""

    def __init__(
        self,
        config: RetrieverConfig,
        bm25: BM25Retriever | None,
        dense: DenseRetriever | None,
        count_tokens: TokenCounter,
    ) -> None:
        self._config = config
        self._retrievers = [r for r in (bm25, dense) if r is not None]
        self._documents = (bm25 or dense).documents
        self._count_tokens = count_tokens

    @property
    def documents(self) -> list[Document]:
        return list(self._documents)

    def search(self, query: str, k: int) -> list[Retrieved]:
        """Up to k documents for the query, best first, after fusion and rerank."""
        depth = max(k, self._config.candidates)
        attributes = {
            semconv.OPERATION: "retrieval",
            semconv.DATA_SOURCE: self._config.kind,
            semconv.RETRIEVAL_K: k,
        }
        with tracer().start_as_current_span(
            f"retrieval {self._config.kind}", attributes=attributes
        ) as span:
            rankings = [retriever.retrieve(query, depth) for retriever in self._retrievers]
            hits = (
                rankings[0]
                if len(rankings) == 1
                else reciprocal_rank_fusion(rankings, self._config.rrf_k)
            )
            span.set_attribute(semconv.RETRIEVAL_DOCUMENTS, len(hits))
        if self._config.rerank == "title_match":
            attributes = {semconv.RERANK_METHOD: self._config.rerank}
            with tracer().start_as_current_span("rerank", attributes=attributes):
                hits = rerank_by_title_match(query, hits)
        return hits[:k]

    def run(self, query: str) -> RagResult:
        retrieved = tuple(hit.document for hit in self.search(query, self._config.k))
        packed = pack_context(retrieved, self._config.context_budget_tokens, self._count_tokens)
        return RagResult(retrieved, packed, "\n\n".join(document_block(d) for d in packed))
