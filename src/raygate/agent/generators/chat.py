"""What every chat LLM generator shares: the messages it sends and how its reply becomes a
Generation (citations, abstention, tool calls tolerant of malformed JSON)."""

from __future__ import annotations

import json
import re

from raygate.agent.generators.base import Generation, GenerationRequest
from raygate.agent.tools import ToolCall
from raygate.constants import ABSTAIN_ANSWER

_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_CITATION = re.compile(r"\[([A-Za-z0-9][\w.-]*)\]")


def chat_messages(request: GenerationRequest, tools_in_prompt: bool) -> list[dict[str, str]]:
    """System and user messages; tools are described and tool results appended to the user."""
    user = request.user
    if request.tools and tools_in_prompt:
        names = ", ".join(t["name"] for t in request.tools)
        user += (f"\n\nTools: {names}. To use one, reply only with JSON like "
                 '{"tool": "calculate", "arguments": {"expression": "2 * 3"}}.')  # fmt: skip
    if request.observations:
        user += "\n\nTool results:\n" + "\n".join(request.observations)
    return [
        {"role": "system", "content": request.system},
        {"role": "user", "content": user},
    ]


def parse_tool_calls(text: str) -> tuple[ToolCall, ...]:
    """Tool calls in a model's reply: a JSON object {"tool": NAME, "arguments": {...}}.

    Small models often emit broken JSON or prose around it; anything that does not parse
    is taken as a plain answer, never as an error.
    """
    match = _JSON_OBJECT.search(text)
    if match is None:
        return ()
    try:
        payload = json.loads(match.group())
    except json.JSONDecodeError:
        return ()
    if not isinstance(payload, dict) or not isinstance(payload.get("tool"), str):
        return ()
    arguments = payload.get("arguments")
    return (ToolCall(payload["tool"], arguments if isinstance(arguments, dict) else {}),)


def strip_citations(text: str) -> str:
    """The text without its `[doc-id]` citation markers (the answer carries them apart)."""
    return _CITATION.sub("", text)


def reply_to_generation(
    text: str,
    request: GenerationRequest,
    tokens_in: int | None,
    tokens_out: int | None,
    tokens_cached: int = 0,
) -> Generation:
    """A model's reply as a Generation; citations are kept only for documents it was given."""
    calls = parse_tool_calls(text) if request.tools else ()
    known = {doc.id for doc in request.documents}
    citations = tuple(dict.fromkeys(c for c in _CITATION.findall(text) if c in known))
    answer = strip_citations(text).strip() or ABSTAIN_ANSWER
    abstained = "don't know" in answer.lower() or "do not know" in answer.lower()
    return Generation(
        answer, citations, abstained, tokens_in, tokens_out, tokens_cached, tool_calls=calls
    )
