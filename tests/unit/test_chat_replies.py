"""How a chat model's reply becomes a Generation: citations, abstention, tolerant tool calls."""

from raygate.agent.corpus import Document
from raygate.agent.generators import GenerationRequest
from raygate.agent.generators.chat import chat_messages, parse_tool_calls, reply_to_generation

DOC = Document("pol-1", "Returns", "policy", "Return window: 30 days")


def test_tool_calls_parse_from_json_inside_prose_and_malformed_json_is_an_answer():
    (call,) = parse_tool_calls('Sure: {"tool": "calculate", "arguments": {"expression": "1+1"}}')
    assert call.name == "calculate" and call.arguments == {"expression": "1+1"}
    assert parse_tool_calls('{"tool": "calculate", "arguments": ') == ()
    assert parse_tool_calls('{"name": "x"}') == ()
    assert parse_tool_calls('{"tool": "fetch_document", "arguments": "pol-1"}')[0].arguments == {}


def test_only_citations_of_given_documents_are_kept_and_empty_replies_abstain():
    request = GenerationRequest("q", "s", "u", (DOC,))
    reply = reply_to_generation("30 days [pol-1] [made-up]", request, 10, 4)
    assert reply.text == "30 days"  # bracketed ids are stripped from the answer text
    assert reply.citations == ("pol-1",)
    assert reply_to_generation("  ", request, 10, 0).abstained


def test_tools_are_described_only_when_asked_and_observations_follow_the_question():
    request = GenerationRequest("q", "sys", "question", (), ({"name": "calculate"},), ("= 6",))
    plain, described = chat_messages(request, False), chat_messages(request, True)
    assert "Tools:" not in plain[1]["content"] and "Tools: calculate" in described[1]["content"]
    assert plain[1]["content"].endswith("Tool results:\n= 6")
