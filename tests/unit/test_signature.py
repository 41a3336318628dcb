from raygate.packaging.signature import agent_signature
from raygate.schemas import OUTPUT_FIELDS


def test_only_query_is_a_required_input():
    inputs = {c.name: c for c in agent_signature().inputs.inputs}
    assert set(inputs) == {"query", "request_id", "user_id", "session_id", "relevant_ids",
                           "traceparent"}  # fmt: skip
    assert [n for n, c in inputs.items() if c.required] == ["query"]


def test_outputs_cover_the_predict_schema_with_types():
    outputs = {c.name: c for c in agent_signature().outputs.inputs}
    assert tuple(outputs) == OUTPUT_FIELDS
    assert str(outputs["citations"].type) == "Array(string)"
    assert outputs["tokens_in"].type.name == "long" and not outputs["tokens_in"].required
    assert outputs["refused"].type.name == "boolean" and outputs["refused"].required
