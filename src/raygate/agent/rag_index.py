"""The RAG indexes an agent ships: built once at `agent build`, loaded with the model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from raygate.agent.corpus import Document
from raygate.agent.dense import DenseRetriever, Embedder
from raygate.agent.rag import RagPipeline, TokenCounter
from raygate.agent.retrieval import BM25Retriever
from raygate.config import RetrieverConfig

BM25_FOLDER = "bm25"
DENSE_FOLDER = "dense"


def _uses(config: RetrieverConfig) -> tuple[bool, bool]:
    """(lexical, dense) retrievers the config asks for."""
    return config.kind in ("bm25", "hybrid"), config.kind in ("dense", "hybrid")


def build_indexes(config: RetrieverConfig, documents: Sequence[Document], directory: Path) -> None:
    """Index the corpus into `directory`, one folder per retriever the config uses."""
    lexical, dense = _uses(config)
    directory.mkdir(parents=True, exist_ok=True)
    if lexical:
        BM25Retriever.build(documents, k1=config.k1, b=config.b).save(directory / BM25_FOLDER)
    if dense:
        embedder = Embedder(config.embedding_model)
        DenseRetriever.build(documents, embedder).save(directory / DENSE_FOLDER)


def load_rag(
    config: RetrieverConfig,
    documents: Sequence[Document],
    directory: Path,
    count_tokens: TokenCounter,
) -> RagPipeline:
    """The pipeline from indexes written by build_indexes, counting with the generator."""
    lexical, dense = _uses(config)
    bm25 = BM25Retriever.load(directory / BM25_FOLDER, documents) if lexical else None
    vectors = (
        DenseRetriever.load(directory / DENSE_FOLDER, documents, Embedder(config.embedding_model))
        if dense
        else None
    )
    return RagPipeline(config, bm25, vectors, count_tokens)
