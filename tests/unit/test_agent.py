import pytest

from raygate.agent.agent import ReferenceAgent
from raygate.agent.corpus import BUILTIN_CORPUS, load_corpus
from raygate.agent.generators import Generation, make_generator
from raygate.agent.prompts import load_prompt_bundle
from raygate.agent.rag import RagPipeline
from raygate.agent.retrieval import BM25Retriever
from raygate.config import AgentConfig, PricingConfig
from raygate.constants import REFUSAL_ANSWER
from raygate.schemas import PredictInput
from raygate.telemetry.pii import find_pii
from raygate.telemetry.prices import request_cost_usd
from raygate.testing import ScriptedGenerator

CONFIG = AgentConfig.model_validate(
    {
        "name": "t",
        "prompt": {"id": "grounded-answer", "version": 1},
        "generator": {"kind": "extractive"},
    }
)


def agent(generator=None, config=CONFIG) -> ReferenceAgent:
    corpus = load_corpus(BUILTIN_CORPUS)
    generator = generator or make_generator(CONFIG.generator)
    bm25 = BM25Retriever.build(corpus, k1=1.5, b=0.75)
    return ReferenceAgent(
        config=config,
        rag=RagPipeline(config.retriever, bm25, None, generator.count_tokens),
        prompt=load_prompt_bundle().get("grounded-answer", 1),
        generator=generator,
        model_id="t@1",
    )


def test_output_rows_carry_ids_accounting_and_retrieval():
    (row,) = agent().predict(
        [PredictInput(query="What is the return window for Kitchen products?", request_id="r1")]
    )
    assert row.request_id == "r1" and row.model_id == "t@1" and row.prompt_id == "grounded-answer@1"
    assert row.citations == ["pol-return-kitchen"] and row.retrieved_ids[0] == "pol-return-kitchen"
    assert len(row.retrieved_ids) == CONFIG.retriever.k and len(row.trace_id) == 32
    assert row.tokens_in > 0 and row.latency_ms_total > 0 and row.error is None


def test_the_generator_sees_the_rendered_prompt_with_retrieved_documents():
    generator = ScriptedGenerator(Generation("ok", ("x",), False, 1, 1))
    agent(generator).predict([PredictInput(query="express fee for shipping to Germany")])
    (request,) = generator.requests
    assert "express fee for shipping to Germany" in request.user
    assert "[pol-ship-germany]" in request.user and request.documents[0].id == "pol-ship-germany"


def test_a_failing_row_records_its_error_and_the_batch_goes_on():
    generator = ScriptedGenerator(RuntimeError("engine down"), Generation("fine", (), False, 1, 1))
    first, second = agent(generator).predict(
        [PredictInput(query="a kettle"), PredictInput(query="a router")]
    )
    assert first.error == "error: RuntimeError: engine down" and first.answer == ""
    assert first.finish_reason == "error" and first.steps == 1
    assert second.error is None and second.answer == "fine"


def test_pii_never_reaches_the_generator_nor_the_output():
    leaky = ScriptedGenerator(
        Generation("Mail a.b@example.com or call +1 202 555 0147", (), False, 5, 5)
    )
    query = "I am a.b@example.com, card 4111 1111 1111 1111. Return window for Kitchen products?"
    (row,) = agent(leaky).predict([PredictInput(query=query)])
    (request,) = leaky.requests
    for text in (request.query, request.system, request.user):
        assert find_pii(text) == []
    assert find_pii(row.answer) == [] and row.answer == "Mail [EMAIL] or call [PHONE]"
    assert row.safety_flags == ["pii_redacted_input:card,email", "pii_redacted_output:email,phone"]


def test_a_refused_request_never_reaches_the_generator():
    generator = ScriptedGenerator()
    (row,) = agent(generator).predict([PredictInput(query="Write a phishing email to my boss")])
    assert generator.requests == [] and row.refused and row.answer == REFUSAL_ANSWER
    assert (
        row.finish_reason == "refused"
        and row.cost_usd == 0.0
        and row.safety_flags == ["refused:fraud_phishing"]
    )


def test_rate_limited_user_gets_an_error_row():
    limits = {"rate_limit": {"requests_per_minute": 1, "burst": 1}}
    config = AgentConfig.model_validate({**CONFIG.model_dump(), "safety": limits})
    limited = agent(config=config)
    first, second = limited.predict(
        [PredictInput(query="kettle", user_id="u"), PredictInput(query="kettle", user_id="u")]
    )
    assert first.error is None and second.finish_reason == "rate_limited"
    assert second.error.startswith("rate_limited: retry after") and second.safety_flags == [
        "rate_limited"
    ]


def test_cost_from_token_prices_and_compute_time():
    prices = PricingConfig(
        input_cost_per_token=1e-6, cache_read_input_token_cost=1e-7, output_cost_per_token=4e-6,
        compute_usd_per_hour=3.6,
    ).prices()  # fmt: skip
    assert request_cost_usd(prices, 1000, 50, 100, 2.0) == pytest.approx(0.00311)
    assert request_cost_usd(prices, None, 50, 0, 1.0) is None  # token counts it needs: unknown


def test_an_unpriced_agent_costs_missing_never_zero():
    assert PricingConfig().prices() is None
    assert request_cost_usd(None, 10, 10, 0, 1.0) is None
    (row,) = agent().predict(
        [PredictInput(query="What is the return window for Kitchen products?")]
    )
    assert row.cost_usd is None


def test_a_priced_model_comes_from_the_table_and_fields_override_it():
    from raygate.errors import ConfigError
    from raygate.schemas import validate_mapping

    prices = PricingConfig(model="gpt-4o-mini", output_cost_per_token=1e-6).prices()
    assert prices == {"input_cost_per_token": 1.5e-7, "cache_read_input_token_cost": 7.5e-8,
                      "output_cost_per_token": 1e-6}  # fmt: skip
    with pytest.raises(ConfigError, match="'gpt-9' is not priced; use one of"):
        validate_mapping({"model": "gpt-9"}, PricingConfig, ConfigError, "pricing")
    priced = AgentConfig.model_validate(CONFIG.model_dump() | {"pricing": {"model": "cpu-2vcpu"}})
    (row,) = agent(config=priced).predict([PredictInput(query="What is the express fee?")])
    assert row.cost_usd is not None and row.cost_usd > 0


def test_fallback_generator_answers_and_is_recorded():
    config = AgentConfig.model_validate({**CONFIG.model_dump(), "fallback": {"kind": "extractive"}})
    broken = ScriptedGenerator(RuntimeError("gpu lost"))
    (row,) = agent(broken, config).predict(
        [PredictInput(query="return window for Kitchen products")]
    )
    assert (
        row.fallback == "extractive after error" and row.answer == "60 days" and row.error is None
    )


def test_a_loop_limit_is_a_recorded_outcome():
    from raygate.agent.tools import ToolCall

    config = AgentConfig.model_validate({**CONFIG.model_dump(), "loop": {"max_steps": 2}})
    busy = ScriptedGenerator(
        *(
            Generation(
                "", (), False, 1, 1, tool_calls=(ToolCall("calculate", {"expression": f"{i}"}),)
            )
            for i in range(3)
        )
    )
    (row,) = agent(busy, config).predict([PredictInput(query="kettle")])
    assert row.finish_reason == "max_steps" and row.steps == 2 and row.error.startswith("max_steps")


def test_rows_report_retrieval_figures_when_gold_ids_come_with_the_request():
    query = "What is the return window for Kitchen products?"
    with_gold, without = agent().predict(
        [
            PredictInput(query=query, relevant_ids=["pol-return-kitchen"]),
            PredictInput(query=query),
        ]
    )
    assert with_gold.hit_at_k == 1.0 and with_gold.context_precision == 1.0
    assert without.hit_at_k is None and without.context_precision is None
    # The extractive answer is copied from its context: every content word is grounded.
    assert with_gold.context_use_rate == 1.0 and with_gold.context_ids == with_gold.retrieved_ids


def test_context_budget_limits_what_the_generator_reads():
    tight = CONFIG.model_copy(
        update={"retriever": CONFIG.retriever.model_copy(update={"context_budget_tokens": 40})}
    )
    generator = ScriptedGenerator(Generation("ok", (), False, 1, 1))
    (row,) = agent(generator, tight).predict([PredictInput(query="express fee Germany")])
    (request,) = generator.requests
    assert len(row.retrieved_ids) == 4 and row.context_ids == [request.documents[0].id]
    assert sum(len(d.text.split()) for d in request.documents) <= 40


def test_an_abstention_claims_nothing_so_its_context_use_rate_is_unknown():
    (row,) = agent().predict([PredictInput(query="Who founded the company's moon base?")])
    assert row.finish_reason == "abstain" and row.context_use_rate is None


def test_self_harm_is_answered_with_care_and_the_rule_is_named():
    from raygate.constants import SELF_HARM_ANSWER

    generator = ScriptedGenerator()  # never called: the script is empty
    (row,) = agent(generator).predict([PredictInput(query="I want to end my life, tell me how")])
    assert row.refused and row.finish_reason == "refused" and generator.requests == []
    assert row.answer == SELF_HARM_ANSWER and "988" in row.answer
    assert row.safety_flags == ["refused:self_harm"]
