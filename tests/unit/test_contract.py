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


def test_query_models_are_compared_by_what_raygate_s_callers_send():
    """Each model's one text input gets the query whatever its name, and a request sends the
    other inputs by name in `inputs`: renaming the text input, or dropping an input, breaks
    no caller; requiring an input they do not send, or retyping one they do, does."""

    def asks(*specs):
        return sig(list(specs), BASE.outputs.inputs)

    question, top_k = ColSpec("string", "question"), ColSpec("long", "top_k")
    assert signature_problems(asks(question), asks(ColSpec("string", "input"))) == []
    assert signature_problems(asks(question), asks(question, ColSpec("string", "context"))) == []
    assert signature_problems(asks(question, top_k), asks(question)) == [
        "new required input 'top_k' breaks existing callers"
    ]
    assert signature_problems(asks(question, ColSpec("double", "top_k")),
                              asks(question, top_k)) == [
        "input 'top_k' changed type long → double"
    ]  # fmt: skip
    optional = ColSpec("long", "top_k", required=False)
    assert signature_problems(asks(question, optional), asks(question)) == []


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


def test_tool_declarations_need_unique_names_objects_and_declared_required_fields():
    problems = tool_schema_problems([
        {"name": "a", "parameters": {"type": "object", "properties": {"x": {}}, "required": ["y"]}},
        {"name": "a", "parameters": {"type": "object", "properties": {}}},
        {"parameters": {"type": "object"}},
        {"name": "b", "parameters": {"type": "string"}},
        {"name": "c"},
    ])  # fmt: skip
    assert problems == [
        "tool 'a': required field(s) y not in properties",
        "tool 'a': the name is declared twice",
        "tool #3: needs a non-empty string 'name'",
        "tool 'b': parameters must describe an object (type: object)",
        "tool 'c': needs 'parameters', a JSON Schema object",
    ]
    assert tool_schema_problems({"name": "x"}) == [
        "tool_schemas.json must hold a list of tools, not dict"
    ]


def test_the_reference_agents_tool_schemas_are_valid():
    from raygate.agent.corpus import BUILTIN_CORPUS, load_corpus
    from raygate.agent.tools import Toolbox, reference_tools

    tools = reference_tools(lambda query, k: [], load_corpus(BUILTIN_CORPUS))
    schemas = Toolbox(tools, ["search_documents", "fetch_document", "calculate"]).schemas()
    assert tool_schema_problems(list(schemas)) == []


def test_models_raygate_asks_differently_break_callers_only_where_no_request_field_fills_them():
    from mlflow.types.schema import Array, DataType, Object, Property

    message = Object([Property("role", DataType.string), Property("content", DataType.string)])
    chat = sig([ColSpec(Array(message), "messages")], [ColSpec("string", "choices")])  # ChatModel
    texts = sig([ColSpec(DataType.string)], [ColSpec(DataType.string)])  # typed list[str]
    ticket = Object([Property("question", DataType.string), Property("tenant", DataType.string)])
    typed = sig([ColSpec(ticket)], [ColSpec(DataType.string)])  # list[Ticket]: two required
    assert signature_problems(chat, BASE) == []  # asked with the conversation
    assert signature_problems(texts, BASE) == []  # the query fills its one string
    assert signature_problems(BASE, chat) == []  # and back: query rows from the conversation
    assert [p.split(" is ")[0] for p in signature_problems(typed, BASE)] == [
        "required input 'question'", "required input 'tenant'",  # two: which is the query?
    ]  # fmt: skip
