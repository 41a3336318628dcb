"""MLflow's chat and agent flavors served as what they are: which input a model takes (a
query row, ChatModel/ChatAgent `messages`, ResponsesAgent `input`), the request it gets for
a conversation, and the answer text in whatever shape it replies."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, Literal

from raygate.packaging.inputs import SignatureInput, conversation_inputs
from raygate.schemas import INPUTS_FIELD

Interface = Literal["query", "messages", "responses"]
# MLflow's ChatContext field → the request row's field that fills it.
CONTEXT_FIELDS = {"conversation_id": "session_id", "user_id": "user_id"}


def interface_of(accepted: Iterable[SignatureInput] | None) -> Interface:
    """How a model with these signature inputs is asked: by query rows, unless it takes a
    conversation (a `messages` or `input` list, not text)."""
    accepted = list(accepted or ())
    conversation = conversation_inputs(accepted)
    if "query" in {a.name for a in accepted} or not conversation:
        return "query"
    return "messages" if "messages" in conversation else "responses"  # ChatAgent; Responses


def conversation_request(
    interface: Interface,
    messages: list[dict[str, Any]],
    row: Mapping[str, Any] | None,
    takes: Collection[str],
) -> dict[str, Any]:
    """The model's input for a conversation (OpenAI-style role/content messages), with what
    the request row it came with says beside it where the model's signature `takes` it (as
    MLflow's ChatAgent, ResponsesAgent and ChatModel do): the row's other `inputs` as MLflow's
    `custom_inputs`, its user and session ids as MLflow's `context`."""
    request = {"input": messages} if interface == "responses" else {"messages": messages}
    row = row or {}
    if "custom_inputs" in takes and row.get(INPUTS_FIELD):
        request["custom_inputs"] = dict(row[INPUTS_FIELD])
    context = {name: row[field] for name, field in CONTEXT_FIELDS.items() if row.get(field)}
    if "context" in takes and context:
        request["context"] = context
    return request


def user_turn(query: str) -> list[dict[str, Any]]:
    """A one-question conversation: how a query row reaches a chat or agent flavor."""
    return [{"role": "user", "content": query}]


def reply_record(output: Any) -> dict[str, Any]:
    """A chat or agent flavor's reply as a prediction record: its text, and its token counts
    where its `usage` gives them (missing otherwise, never 0)."""
    if hasattr(output, "model_dump"):
        output = output.model_dump()
    return {"answer": answer_text(output), "finish_reason": "answer", **reply_ending(output)}


def reply_ending(output: Any) -> dict[str, Any]:
    """What a reply, or a chunk of a streamed one, says of how it ended: `finish_reason`
    `length` when cut at its token limit (a ChatModel's or ChatAgent chunk's finish reason, a
    ResponsesAgent's incomplete status), `content_filter` (and `refused`) when its filter
    stopped it, and token counts where its `usage` gives them; only what it says."""
    if not isinstance(output, dict):
        return {}
    if output.get("choices"):
        said = (output["choices"][0] or {}).get("finish_reason")
    elif output.get("status") == "incomplete":
        said = (output.get("incomplete_details") or {}).get("reason")
    else:
        said = output.get("finish_reason")  # a ChatAgent chunk
    ending: dict[str, Any] = {}
    if said in ("length", "max_output_tokens", "max_tokens"):
        ending["finish_reason"] = "length"
    elif said == "content_filter":
        ending.update(finish_reason="content_filter", refused=True)
    usage = output.get("usage")
    if isinstance(usage, dict):  # chat: prompt/completion_tokens; Responses: input/output_tokens
        ending["tokens_in"] = _count(usage.get("prompt_tokens", usage.get("input_tokens")))
        ending["tokens_out"] = _count(usage.get("completion_tokens", usage.get("output_tokens")))
    return ending


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def answer_text(output: Any) -> str:
    """The assistant's text in a ChatAgent, ChatModel or ResponsesAgent reply."""
    if hasattr(output, "model_dump"):
        output = output.model_dump()
    if isinstance(output, str):
        return output
    if not isinstance(output, dict):
        return ""
    if output.get("choices"):  # ChatModel: chat.completion
        return str(((output["choices"][0] or {}).get("message") or {}).get("content") or "")
    if isinstance(output.get("messages"), list):  # ChatAgent: the last assistant message
        said = [m for m in output["messages"] if isinstance(m, dict) and m.get("content")]
        return str(said[-1]["content"]) if said else ""
    if isinstance(output.get("output"), list):  # ResponsesAgent: its output_text parts
        return "".join(
            part.get("text", "")
            for item in output["output"] if isinstance(item, dict) and item.get("type") == "message"
            for part in item.get("content") or [] if part.get("type") == "output_text"
        )  # fmt: skip
    return ""
