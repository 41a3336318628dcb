"""Which field fills each input of a user's pyfunc: its own name, an input map, or the query
for a model whose one text input is named otherwise."""

import pandas as pd
import pytest

from raygate.errors import ConfigError
from raygate.packaging.inputs import (
    SignatureInput,
    default_input_map,
    effective_input_map,
    parse_input_map,
    signature_inputs,
    unfilled_inputs,
)


def text(name: str, required: bool = True) -> SignatureInput:
    return SignatureInput(name, required, True)


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ([text("question")], {"question": "query"}),  # its one text input
        ([text("prompt"), text("user", required=False)], {"prompt": "query"}),  # one required
        ([text("text", required=False)], {"text": "query"}),  # its only input
        ([text("query"), text("question")], {}),  # takes the query by name already
        ([SignatureInput("messages", True, False)], {}),  # a chat flavor: the conversation
        ([SignatureInput("input", True, False)], {}),  # a ResponsesAgent
        ([text("input")], {"input": "query"}),  # a LangChain chain's question
        ([text("question"), text("context")], {}),  # two required: ambiguous, ask for a map
        ([SignatureInput("x", True, False)], {}),  # not text
        ([text("question"), SignatureInput("top_k", True, False)], {"question": "query"}),
        (None, {}),  # no signature: the query goes as `query`
    ],
)
def test_the_query_goes_to_a_lone_text_input_only(inputs, expected):
    assert default_input_map(inputs) == expected


def test_a_map_overrides_the_default_and_must_name_accepted_inputs():
    inputs = [text("question"), text("context", required=False)]
    assert effective_input_map(inputs, {"context": "session_id"}) == {
        "question": "query", "context": "session_id",
    }  # fmt: skip
    with pytest.raises(ConfigError, match=r"names prompt, which .* takes context, question"):
        effective_input_map(inputs, {"prompt": "query"})
    assert effective_input_map(None, {"prompt": "query"}) == {"prompt": "query"}


def test_required_inputs_no_field_fills_are_named():
    inputs = [text("question"), text("context"), text("style", required=False)]
    fields = ["query", "user_id", "session_id"]
    assert unfilled_inputs(inputs, {"question": "query"}, fields) == ["context"]
    assert unfilled_inputs(inputs, {"question": "query", "context": "user_id"}, fields) == []
    assert unfilled_inputs(inputs, {"question": "query", "context": "nope"}, fields) == ["context"]


def test_command_line_pairs_are_parsed_or_refused_with_an_example():
    assert parse_input_map([" question = query", "context=session_id"]) == {
        "question": "query", "context": "session_id",
    }  # fmt: skip
    for bad in ("question", "=query", "question="):
        with pytest.raises(ConfigError, match=r"INPUT=FIELD .*question=query"):
            parse_input_map([bad])


@pytest.mark.parametrize(
    ("reply", "finish", "openai_finish"),
    [
        ({"choices": [{"message": {"content": "6"}, "finish_reason": "stop"}]}, "answer", "stop"),
        ({"choices": [{"message": {"content": "6"}, "finish_reason": "length"}]}, "length",
         "length"),
        ({"choices": [{"message": {"content": ""}, "finish_reason": "content_filter"}]},
         "content_filter", "content_filter"),
        ({"output": [], "status": "incomplete",
          "incomplete_details": {"reason": "max_output_tokens"}}, "length", "length"),
        ({"messages": [{"role": "assistant", "content": "6"}]}, "answer", "stop"),
    ],
)  # fmt: skip
def test_a_chat_flavor_s_reply_says_how_it_ended_and_openai_clients_read_it(
    reply, finish, openai_finish
):
    from raygate.packaging.conversation import reply_record
    from raygate.serving.openai_schema import finish_reason

    record = reply_record(reply)
    assert record["finish_reason"] == finish
    assert finish_reason(record) == openai_finish
    assert record.get("refused", False) == (finish == "content_filter")


@pytest.mark.parametrize(
    "output",
    [
        pd.DataFrame([{"answer": "6", "confidence": 0.5}]),
        ["6"],
        pd.Series(["6"]),
        [{"output": "6"}],
        "6",
        {"choices": [{"message": {"role": "assistant", "content": "6"}}]},
        {"messages": [{"role": "assistant", "content": "6"}]},
        {"output": [{"type": "message", "content": [{"type": "output_text", "text": "6"}]}]},
    ],
)  # fmt: skip
def test_any_model_that_takes_messages_is_read_for_its_answer(output):
    """A plain pyfunc with a `messages` input answers as any pyfunc does (a frame, a list),
    chat and agent flavors as they do; never an empty answer for a shape not understood."""
    from raygate.packaging.outputs import conversation_record

    assert conversation_record(output)["answer"] == "6"


def test_a_conversation_answered_with_several_rows_is_an_error():
    from raygate.errors import ModelOutputError
    from raygate.packaging.outputs import conversation_record

    with pytest.raises(ModelOutputError, match="one conversation with 2 rows"):
        conversation_record(["6", "7"])
    with pytest.raises(ModelOutputError, match="output records have fields score"):
        conversation_record(pd.DataFrame([{"score": 1.0, "n": 2}]))


@pytest.mark.parametrize(
    "example, interface, default_map",
    [
        ({"input": ["hi"]}, "query", {"input": "query"}),  # LangChain's chains: a text input
        ({"messages": ["hi"]}, "query", {"messages": "query"}),
        ({"messages": [[{"role": "user", "content": "hi"}]]}, "messages", {}),
        ({"input": [[{"role": "user", "content": "hi"}]]}, "responses", {}),
        ({"query": ["hi"], "messages": [[{"role": "user", "content": "hi"}]]}, "query", {}),
    ],
)  # fmt: skip
def test_only_a_list_of_messages_makes_a_model_conversational(example, interface, default_map):
    from mlflow.models import infer_signature

    from raygate.packaging.conversation import interface_of

    accepted = signature_inputs(infer_signature(pd.DataFrame(example), ["x"]))
    assert interface_of(accepted) == interface
    assert default_input_map(accepted) == default_map


def _signature(*specs):
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema

    return ModelSignature(Schema(list(specs)))


def test_a_type_hinted_model_s_typed_list_is_read_as_its_inputs():
    from mlflow.types.schema import ColSpec, DataType, Object, Property

    from raygate.packaging.inputs import input_shape, shaped, signature_inputs

    question = Object([Property("question", DataType.string),
                       Property("tone", DataType.string, required=False)])  # fmt: skip
    typed = _signature(ColSpec(question))  # predict(self, model_input: list[Question])
    assert input_shape(typed) == "objects"
    assert signature_inputs(typed) == [text("question"), text("tone", required=False)]
    assert default_input_map(signature_inputs(typed)) == {"question": "query"}
    assert shaped([{"question": "q", "tone": None}], "objects") == [{"question": "q"}]

    texts = _signature(ColSpec(DataType.string))  # predict(self, model_input: list[str])
    assert input_shape(texts) == "texts" and signature_inputs(texts) == [text("text")]
    assert shaped([{"text": "q"}], "texts") == ["q"]

    named = _signature(ColSpec(DataType.string, "question"))  # a frame's named column
    assert input_shape(named) == "columns" and signature_inputs(named) == [text("question")]
    assert input_shape(_signature(ColSpec(DataType.long))) == "columns"  # list[int]: not ours
    assert input_shape(None) == "columns" and signature_inputs(None) is None


def test_a_query_input_typed_as_a_list_is_refused_before_any_work_saying_why():
    """MLflow infers Array(string) from an input example like {"query": ["hi"]}: every gold
    row's text query would then fail its schema check, one by one."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, Schema

    from raygate.errors import EvaluationError
    from raygate.evaluation.inputs import check_query_is_text

    listed = ModelSignature(Schema([ColSpec(Array("string"), "query")]))
    accepted = signature_inputs(listed)
    assert accepted == [SignatureInput("query", True, False, "Array(string)")]
    with pytest.raises(EvaluationError, match=r"input 'query' is typed Array\(string\).*"
                       r'input_example=\{"query": "…"\} or a DataFrame'):  # fmt: skip
        check_query_is_text(accepted, {"query": "query"})
    check_query_is_text(accepted, {})  # a list input the query does not go to is the model's
    check_query_is_text([text("query")], {"query": "query"})


def test_a_lone_input_named_otherwise_and_typed_as_a_list_is_refused_saying_why_not_unfilled():
    """{"question": ["hi"]} as the input example: predict, serving and eval said the model
    needs a `question` that nothing fills, and to pass it with --input."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, Schema

    from raygate.errors import ModelLoadError
    from raygate.packaging.loading import checked_input_map

    listed = ModelSignature(Schema([ColSpec(Array("string"), "question")]))
    accepted = signature_inputs(listed)
    assert default_input_map(accepted) == {"question": "query"}
    model = type("Loaded", (), {"metadata": type("Meta", (), {"signature": listed})})()
    for request_inputs in (False, True):  # raygate predict; a serving replica
        with pytest.raises(ModelLoadError, match=r"^the model's input 'question' is typed "
                           r"Array\(string\), a list per row"):  # fmt: skip
            checked_input_map(model, request_inputs=request_inputs)
    documents = SignatureInput("documents", True, False, "Array(string)")
    assert default_input_map([text("question"), documents]) == {"question": "query"}
    two_lists = [documents, SignatureInput("tags", True, False, "Array(string)")]
    assert default_input_map(two_lists) == {}  # ambiguous: an input map says which
