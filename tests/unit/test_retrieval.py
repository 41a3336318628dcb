from raygate.agent.corpus import BUILTIN_CORPUS, Document, load_corpus
from raygate.agent.retrieval import BM25Retriever


def docs():
    return [
        Document("d1", "Aero Kettle K-100", "product", "Aero Kettle K-100\nPrice: $10.00"),
        Document("d2", "Nova Router R-200", "product", "Nova Router R-200\nPrice: $99.00"),
        Document("d3", "Nova Kettle K-300", "product", "Nova Kettle K-300\nPrice: $20.00"),
    ]


def test_the_document_named_in_the_query_ranks_first():
    retriever = BM25Retriever.build(docs(), k1=1.5, b=0.75)
    hits = retriever.retrieve("price of the Nova Router R-200", k=2)
    assert hits[0].document.id == "d2"
    assert len(hits) == 2 and hits[0].score >= hits[1].score


def test_documents_without_a_shared_word_are_not_retrieved():
    retriever = BM25Retriever.build(docs(), k1=1.5, b=0.75)
    assert retriever.retrieve("what is the", k=3) == []
    assert [h.document.id for h in retriever.retrieve("router", k=3)] == ["d2"]


def test_ties_break_by_corpus_order():
    twins = [Document(f"d{i}", "Same title", "product", "Same title\nSame: text") for i in range(5)]
    retriever = BM25Retriever.build(twins, k1=1.5, b=0.75)
    assert [h.document.id for h in retriever.retrieve("same title", k=3)] == ["d0", "d1", "d2"]


def test_saved_index_gives_the_same_results(tmp_path):
    corpus = load_corpus(BUILTIN_CORPUS)
    built = BM25Retriever.build(corpus, k1=1.2, b=0.7)
    built.save(tmp_path / "index")
    loaded = BM25Retriever.load(tmp_path / "index", corpus)
    query = "return window for Kitchen products"
    assert built.retrieve(query, k=5) == loaded.retrieve(query, k=5)
