from raygate.agent.corpus import Document
from raygate.agent.generators import ExtractiveGenerator, GenerationRequest
from raygate.config import ExtractiveGeneratorConfig
from raygate.constants import ABSTAIN_ANSWER

KETTLE = Document(
    "prod-k1", "Aero Kettle K-100", "product", "Aero Kettle K-100\nPrice: $10.00\nWeight: 1.1 kg"
)
POLICY = Document(
    "pol-1", "Return policy for Kitchen products", "policy",
    "Return policy for Kitchen products\nReturn window: 30 days",
)  # fmt: skip


def ask(query: str, *documents: Document, **config):
    generator = ExtractiveGenerator(ExtractiveGeneratorConfig(kind="extractive", **config))
    request = GenerationRequest(query, "system text", f"user {query}", documents)
    return generator.generate([request])[0]


def test_answers_with_the_fact_whose_field_and_subject_match():
    answer = ask("What is the weight of the Aero Kettle K-100?", POLICY, KETTLE)
    assert (answer.text, answer.citations, answer.abstained) == ("1.1 kg", ("prod-k1",), False)


def test_abstains_when_the_subject_is_not_named():
    answer = ask("What is the weight of the Nova Kettle K-900?", KETTLE)
    assert answer.text == ABSTAIN_ANSWER and answer.citations == () and answer.abstained


def test_abstains_when_no_fact_has_the_asked_field():
    assert ask("What is the battery life of the Aero Kettle K-100?", KETTLE).abstained


def test_a_looser_subject_threshold_answers_partial_names():
    query = "What is the return window for Kitchen items?"
    assert ask(query, POLICY).abstained
    assert ask(query, POLICY, min_subject_overlap=0.5).text == "30 days"


def test_tokens_are_counted():
    answer = ask("What is the price of the Aero Kettle K-100?", KETTLE)
    assert answer.tokens_in > 0 and answer.tokens_out == 1 and answer.tokens_cached == 0
