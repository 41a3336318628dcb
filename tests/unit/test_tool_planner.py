"""The extractive generator plans with its tools: calculate for arithmetic, search_documents
for a document the context lacks, then answers from what it observed."""

import pytest

from raygate.agent.generators.tool_planner import parse_quantity
from raygate.config import AgentConfig
from raygate.schemas import PredictInput
from tests.unit.test_agent import agent


def config(**overrides) -> AgentConfig:
    base = {
        "name": "t",
        "prompt": {"id": "grounded-answer", "version": 1},
        "generator": {"kind": "extractive", "min_field_overlap": 0.5, "min_subject_overlap": 0.75},
        "retriever": {"kind": "bm25", "k": 4},
    }
    return AgentConfig.model_validate(base | overrides)


def ask(query: str, **overrides):
    (row,) = agent(config=config(**overrides)).predict([PredictInput(query=query)])
    return row


def test_arithmetic_goes_through_calculate():
    row = ask("How much do 3 units of the Nova Kettle K-140 cost in total?")
    assert row.tool_calls == ['calculate({"expression": "3 * 49.49"})']
    assert (row.answer, row.steps, row.finish_reason) == ("$148.47", 2, "answer")
    assert row.citations == ["prod-k140"]


def test_a_sum_of_two_products_uses_both_documents():
    row = ask("What is the combined weight of the Nova Kettle K-140 and the Aero Kettle K-850?")
    assert row.tool_calls == ['calculate({"expression": "0.84 + 1.33"})']
    assert row.answer == "2.17 kg" and row.citations == ["prod-k140", "prod-k850"]


def test_a_value_the_product_lacks_is_searched_for_then_answered():
    row = ask(
        "How many business days does a warranty repair of the Nova Kettle K-140 take?",
        retriever={"kind": "bm25", "k": 1},
    )
    (search,) = row.tool_calls
    assert search.startswith("search_documents(")
    assert row.answer == "17 business days"
    assert row.citations == ["prod-k140", "pol-warranty-kitchen"]


def test_a_discount_is_looked_up_then_computed():
    row = ask(
        "What does the Aero Kettle K-850 cost with the student discount?",
        retriever={"kind": "bm25", "k": 1},
    )
    assert [call.split("(")[0] for call in row.tool_calls] == ["search_documents", "calculate"]
    assert row.answer == "$80.10" and "pol-student" in row.citations and row.steps == 3


def test_a_comparison_needs_no_tool_when_both_documents_are_at_hand():
    row = ask("Which is heavier, the Nova Kettle K-140 or the Aero Kettle K-850?")
    assert row.answer == "Aero Kettle K-850" and row.tool_calls == [] and row.steps == 1


def test_without_tools_the_generator_only_looks_facts_up():
    row = ask("How much do 3 units of the Nova Kettle K-140 cost in total?", tools=[])
    assert row.tool_calls == [] and row.answer != "$148.47"


def test_a_plain_lookup_calls_no_tool():
    row = ask("What is the price of the Aero Kettle K-850?")
    assert row.answer == "$89.00" and row.tool_calls == []


@pytest.mark.parametrize(
    ("text", "value", "formatted"),
    [
        ("$1,299.00", 2598.0, "$2,598.00"),
        ("0.84 kg", 2.1700000001, "2.17 kg"),
        ("10%", 15.0, "15%"),
    ],
)
def test_quantities_keep_the_way_they_were_written(text, value, formatted):
    assert parse_quantity(text).format(value) == formatted


def test_an_attribute_the_product_does_not_have_is_not_borrowed_from_another_product():
    row = ask("What is the battery life of the Nova Kettle K-140?")
    assert row.finish_reason == "abstain" and row.citations == []
