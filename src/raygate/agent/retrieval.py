"""Lexical retrieval: a BM25 index over the corpus (bm25s), saved and loaded with the model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s

from raygate.agent.corpus import Document
from raygate.errors import CorpusError
from raygate.text import content_tokens


@dataclass(frozen=True)
class Retrieved:
    """A document with its retrieval score, best first."""

    document: Document
    score: float


def document_text(document: Document) -> str:
    """What every retriever indexes: the title, then the text."""
    return f"{document.title}\n{document.text}"


class BM25Retriever:
    """BM25 over title and text; ties break by corpus order so results are deterministic."""

    def __init__(self, documents: Sequence[Document], index: bm25s.BM25) -> None:
        self._documents = list(documents)
        self._index = index

    @classmethod
    def build(cls, documents: Sequence[Document], k1: float, b: float) -> BM25Retriever:
        index = bm25s.BM25(k1=k1, b=b)
        index.index([content_tokens(document_text(d)) for d in documents], show_progress=False)
        return cls(documents, index)

    @classmethod
    def load(cls, directory: Path, documents: Sequence[Document]) -> BM25Retriever:
        try:
            index = bm25s.BM25.load(str(directory), show_progress=False)
        except (OSError, ValueError) as exc:
            raise CorpusError(f"cannot load the BM25 index from {directory}: {exc}") from None
        return cls(documents, index)

    @property
    def documents(self) -> list[Document]:
        return list(self._documents)

    def save(self, directory: Path) -> None:
        self._index.save(str(directory), show_progress=False)

    def retrieve(self, query: str, k: int) -> list[Retrieved]:
        """Up to k documents sharing at least one content word with the query."""
        tokens = content_tokens(query)
        if not tokens:
            return []
        k = min(k, len(self._documents))
        # Ask for every document so that ties at the k-th place are broken by corpus order.
        ids, scores = self._index.retrieve([tokens], k=len(self._documents), show_progress=False)
        ranked = sorted(
            ((float(s), int(i)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0),
            key=lambda pair: (-pair[0], pair[1]),
        )
        return [Retrieved(self._documents[i], score) for score, i in ranked[:k]]
