from raygate.agent.agent import ReferenceAgent
from raygate.agent.corpus import BUILTIN_CORPUS, load_corpus
from raygate.agent.generators import Generation, make_generator
from raygate.agent.prompts import load_prompt_bundle
from raygate.agent.retrieval import BM25Retriever
from raygate.config import AgentConfig
from raygate.schemas import PredictInput

CONFIG = AgentConfig.model_validate(
    {
        "name": "t",
        "prompt": {"id": "grounded-answer", "version": 1},
        "generator": {"kind": "extractive"},
    }
)


class ScriptedGenerator:
    """Answers from a script; raises when the script says so."""

    def __init__(self, *script):
        self.script = list(script)
        self.requests = []

    def generate(self, requests):
        self.requests.extend(requests)
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return [item]


def agent(generator=None) -> ReferenceAgent:
    corpus = load_corpus(BUILTIN_CORPUS)
    return ReferenceAgent(
        config=CONFIG,
        retriever=BM25Retriever.build(corpus, k1=1.5, b=0.75),
        prompt=load_prompt_bundle().get("grounded-answer", 1),
        generator=generator or make_generator(CONFIG.generator),
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
    generator = ScriptedGenerator(Generation("ok", ("x",), False, 1, 1, 0.0))
    agent(generator).predict([PredictInput(query="express fee for shipping to Germany")])
    (request,) = generator.requests
    assert "express fee for shipping to Germany" in request.user
    assert "[pol-ship-germany]" in request.user and request.documents[0].id == "pol-ship-germany"


def test_a_failing_row_records_its_error_and_the_batch_goes_on():
    generator = ScriptedGenerator(
        RuntimeError("engine down"), Generation("fine", (), False, 1, 1, 0.0)
    )
    first, second = agent(generator).predict(
        [PredictInput(query="a kettle"), PredictInput(query="a router")]
    )
    assert (
        first.error == "RuntimeError: engine down"
        and first.answer == ""
        and first.tokens_in is None
    )
    assert second.error is None and second.answer == "fine"
