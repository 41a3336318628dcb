from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema

from raygate.gates.contract import signature_problems, tool_schema_problems
from raygate.packaging.signature import agent_signature


def sig(inputs, outputs):
    return ModelSignature(Schema(inputs), Schema(outputs))


BASE = sig(
    [ColSpec("string", "query")], [ColSpec("string", "answer"), ColSpec("long", "tokens_in")]
)


def test_identical_signatures_are_compatible():
    assert signature_problems(agent_signature(), agent_signature()) == []


def test_removed_and_retyped_fields_are_named():
    candidate = sig([ColSpec("string", "query")], [ColSpec("double", "tokens_in")])
    assert signature_problems(candidate, BASE) == [
        "output 'answer' was removed",
        "output 'tokens_in' changed type long → double",
    ]


def test_new_required_input_breaks_callers_but_optional_does_not():
    required = sig([ColSpec("string", "query"), ColSpec("string", "tenant")], BASE.outputs.inputs)
    optional = sig(
        [ColSpec("string", "query"), ColSpec("string", "tenant", required=False)],
        BASE.outputs.inputs,
    )
    assert signature_problems(required, BASE) == [
        "new required input 'tenant' breaks existing callers"
    ]
    assert signature_problems(optional, BASE) == []


def test_added_outputs_are_compatible():
    more = sig([ColSpec("string", "query")], [*BASE.outputs.inputs, ColSpec("double", "cost_usd")])
    assert signature_problems(more, BASE) == []


def test_tool_schemas_must_be_valid_json_schema():
    good = {
        "name": "search",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
    bad = {"name": "calc", "parameters": {"type": "object", "properties": {"x": {"type": "nmber"}}}}
    assert tool_schema_problems([good]) == []
    (problem,) = tool_schema_problems([good, bad])
    assert problem.startswith("tool 'calc':")
