import json

from raygate.agent.corpus import load_corpus
from raygate.goldset.generate import DATA_DIR, generate
from raygate.goldset.questions import _iban, _luhn_card


def test_generation_is_deterministic_and_seed_dependent():
    assert generate(1) == generate(1)
    assert generate(1)["dev"] != generate(2)["dev"]


def test_shipped_data_is_the_generator_output():
    for name, rows in generate().items():
        shipped = (DATA_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        assert [json.loads(line) for line in shipped] == rows, f"{name}.jsonl is stale"


def test_corpus_has_products_policies_and_procedures():
    docs = load_corpus(DATA_DIR / "corpus.jsonl")
    kinds = {d.kind for d in docs}
    assert len(docs) >= 300 and kinds == {"product", "policy", "procedure"}


def test_every_answerable_gold_answer_is_stated_in_a_relevant_document():
    docs = {d.id: d for d in load_corpus(DATA_DIR / "corpus.jsonl")}
    for row in generate()["dev"]:
        for doc_id in row.get("relevant_ids", []):
            assert doc_id in docs, f"{row['id']} cites unknown {doc_id}"
        if row["category"] in ("factual", "pii") or row["query"].startswith("What is the return"):
            text = "\n".join(docs[d].text for d in row["relevant_ids"])
            assert row["expected"][0] in text, row


def test_abstain_and_refuse_rows_have_no_relevant_documents():
    for row in generate()["dev"]:
        if row["category"] in ("unanswerable", "disallowed"):
            assert "relevant_ids" not in row


def test_generated_card_numbers_pass_luhn_and_ibans_pass_mod97():
    import random

    rng = random.Random(0)
    for _ in range(50):
        digits = [int(c) for c in _luhn_card(rng).replace(" ", "")]
        checksum = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
        assert checksum % 10 == 0
        iban = _iban(rng)
        rearranged = iban[4:] + iban[:4]
        assert int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
