"""MLflow's chat and agent flavors served as what they are: a ChatAgent (champion) and a
ResponsesAgent (canary) get the whole conversation, answer and stream through the router."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from tests.integration.conftest import log_code_model
from tests.integration.test_serving import TOKEN, Served, deploy, set_weight

CHAT_AGENT = """
import mlflow
from mlflow.models import set_model
from mlflow.pyfunc import ChatAgent
from mlflow.types.agent import ChatAgentChunk, ChatAgentMessage, ChatAgentResponse


def said(messages, context, custom_inputs):
    text = f"{len(messages)} messages, last: {messages[-1].content}"
    if custom_inputs:
        text += f", tier: {custom_inputs['tier']}"
    if context:
        text += f", user: {context.user_id}, conversation: {context.conversation_id}"
    return text


class Echo(ChatAgent):
    def predict(self, messages, context=None, custom_inputs=None):
        reply = ChatAgentMessage(role="assistant", content=said(messages, context, custom_inputs),
                                 id="m1")
        return ChatAgentResponse(messages=[reply])

    def predict_stream(self, messages, context=None, custom_inputs=None):
        for piece in said(messages, context, custom_inputs).split(", "):
            yield ChatAgentChunk(delta=ChatAgentMessage(role="assistant", content=piece, id="m1"))


set_model(Echo())
"""

RESPONSES_AGENT = """
import mlflow
from mlflow.models import set_model
from mlflow.pyfunc import ResponsesAgent
from mlflow.types.responses import ResponsesAgentResponse


class Echo(ResponsesAgent):
    def predict(self, request):
        text = f"{len(request.input)} inputs"
        if request.custom_inputs:
            text += f", tier: {request.custom_inputs['tier']}"
        return ResponsesAgentResponse(output=[self.create_text_output_item(text=text, id="o1")])


set_model(Echo())
"""

CONVERSATION = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "first"},
    {"role": "assistant", "content": "ok"},
    {"role": "user", "content": "second"},
]


@pytest.fixture(scope="module")
def flavors(local_ray, raygate_home, tmp_path_factory) -> Iterator[Served]:
    from raygate.registry.mlflow_registry import MlflowRegistry

    registry, name = MlflowRegistry(), "flavor-agent"
    for source, alias in ((CHAT_AGENT, "champion"), (RESPONSES_AGENT, "candidate")):
        uri = log_code_model(tmp_path_factory.mktemp(alias), source)
        registry.set_alias(name, alias, registry.register(name, uri, {}).version)
    yield from deploy(local_ray, tmp_path_factory, name, rate_limit=None)


def _client(served: Served):
    import openai

    return openai.OpenAI(base_url=f"{served.url}/v1", api_key=TOKEN, max_retries=0)


def test_a_chat_agent_gets_the_whole_conversation_and_streams_it(flavors):
    set_weight(flavors, 0)
    client = _client(flavors)
    reply = client.chat.completions.create(model=flavors.model_name, messages=CONVERSATION)
    assert reply.choices[0].message.content == "4 messages, last: second"
    stream = client.chat.completions.create(
        model=flavors.model_name, messages=CONVERSATION, stream=True
    )
    pieces = [
        c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content
    ]
    assert pieces == ["4 messages", "last: second"]
    predicted = requests.post(f"{flavors.url}/v1/predict", json={"query": "hello"},
                              headers=flavors.headers, timeout=30).json()  # fmt: skip
    assert predicted["answer"] == "1 messages, last: hello"  # a query is one user turn


def test_a_request_s_inputs_and_ids_reach_a_chat_flavor_as_its_custom_inputs_and_context(
    flavors,
):
    set_weight(flavors, 0)  # the ChatAgent
    client, tier = _client(flavors), {"inputs": {"tier": "gold"}}
    reply = client.chat.completions.create(
        model=flavors.model_name, messages=CONVERSATION, extra_body=tier
    )
    assert reply.choices[0].message.content == "4 messages, last: second, tier: gold"
    stream = client.chat.completions.create(
        model=flavors.model_name, messages=CONVERSATION, stream=True, extra_body=tier, user="u-7"
    )
    pieces = [
        c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content
    ]
    assert pieces == ["4 messages", "last: second", "tier: gold", "user: u-7", "conversation: None"]
    asked = {"query": "hello", "user_id": "u-7", "session_id": "s-1"} | tier
    predicted = requests.post(f"{flavors.url}/v1/predict", json=asked, headers=flavors.headers,
                              timeout=30).json()  # fmt: skip
    assert predicted["answer"] == (
        "1 messages, last: hello, tier: gold, user: u-7, conversation: s-1"
    )
    set_weight(flavors, 100)  # the ResponsesAgent, through the Responses API
    response = client.responses.create(model=flavors.model_name, input="hi", extra_body=tier)
    assert response.output_text == "1 inputs, tier: gold"
    set_weight(flavors, 0)


def test_mlflow_keeps_no_trace_of_a_served_agent_s_raw_requests(flavors):
    """MLflow traces each call of a ResponsesAgent itself, raw text and all, into the tracking
    store; served by raygate, a request is traced by raygate alone (redacted)."""
    import mlflow

    set_weight(flavors, 100)  # the ResponsesAgent
    said = "my card is 4111 1111 1111 1111, what now?"
    reply = _client(flavors).chat.completions.create(
        model=flavors.model_name, messages=[{"role": "user", "content": said}]
    )
    assert reply.choices[0].message.content == "1 inputs"
    set_weight(flavors, 0)
    time.sleep(6)  # MLflow writes its traces from a background queue, seconds later
    experiments = [e.experiment_id for e in mlflow.search_experiments()]
    traces = mlflow.search_traces(locations=experiments, return_type="list", include_spans=False)
    previews = [t.info.request_preview or "" for t in traces]
    assert [preview for preview in previews if "4111" in preview] == []


def test_a_responses_agent_gets_the_conversation_as_its_input(flavors):
    set_weight(flavors, 100)
    reply = _client(flavors).chat.completions.create(
        model=flavors.model_name, messages=CONVERSATION
    )
    assert reply.choices[0].message.content == "4 inputs" and reply.model_extra["variant"] == (
        "canary"
    )
    # it inherits ResponsesAgent's predict_stream, which only raises: asked to stream, it
    # answers whole (MLflow still marks it streamable)
    stream = _client(flavors).chat.completions.create(
        model=flavors.model_name, messages=CONVERSATION, stream=True
    )
    chunks = [c for c in stream if c.choices]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "4 inputs"
    assert chunks[-1].choices[0].finish_reason == "stop"
    set_weight(flavors, 0)


def test_the_responses_api_answers_and_streams_through_the_openai_client(flavors):
    set_weight(flavors, 100)  # the ResponsesAgent
    client = _client(flavors)
    response = client.responses.create(model=flavors.model_name, input=CONVERSATION[1:],
                                       instructions="be brief")  # fmt: skip
    assert response.output_text == "4 inputs" and response.status == "completed"
    set_weight(flavors, 0)  # the ChatAgent streams
    stream = client.responses.create(model=flavors.model_name, input="hi there", stream=True)
    events = list(stream)
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert deltas == ["1 messages", "last: hi there"]
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert events[-1].response.output_text == "".join(deltas)
    # the SDK's stream helper rebuilds the response from the item and part events
    with client.responses.stream(model=flavors.model_name, input="hi there") as helper:
        assert helper.get_final_response().output_text == "".join(deltas)
