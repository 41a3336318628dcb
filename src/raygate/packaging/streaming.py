"""The text of one streamed chunk, whatever MLflow flavor produced it: a string, raygate's
`answer`, a chat-completion or ChatAgent delta, or a Responses API text delta or finished
item; how the stream says it ended; and the output row raygate's own agent sends as its
stream's last chunk."""

from __future__ import annotations

from typing import Any

from raygate.errors import ModelFailedError
from raygate.packaging.conversation import answer_text, reply_ending
from raygate.packaging.outputs import ANSWER_NAMES

# The last chunk of a raygate agent's stream: {STREAM_FINAL_KEY: the request's output row}.
STREAM_FINAL_KEY = "raygate_final"


def final_record(chunk: Any) -> dict[str, Any] | None:
    """The output row a stream's last chunk carries, if it is raygate's final chunk."""
    if isinstance(chunk, dict) and isinstance(chunk.get(STREAM_FINAL_KEY), dict):
        return chunk[STREAM_FINAL_KEY]
    return None


def chunk_text(chunk: Any) -> str:
    """The new text a chunk carries ("" for chunks without text: roles, tool calls, usage)."""
    if isinstance(chunk, str):
        return chunk
    if not isinstance(chunk, dict):
        return ""
    if chunk.get("type") == "response.output_text.delta":  # ResponsesAgent
        return str(chunk.get("delta") or "")
    if chunk.get("choices"):  # ChatModel: chat.completion.chunk
        delta = (chunk["choices"][0] or {}).get("delta") or {}
        return str(delta.get("content") or "")
    if isinstance(chunk.get("delta"), dict):  # ChatAgent: {"delta": {"content": …}}
        return str(chunk["delta"].get("content") or "")
    for key in ("answer", *ANSWER_NAMES):  # a piece named as a whole answer's text would be
        if isinstance(chunk.get(key), str):
            return chunk[key]
    return ""


class StreamReader:
    """Reads one model's stream chunk by chunk: the new text of each, and at its end the
    request's output row from what the chunks said (the text, a finish reason, token usage).
    A chunk that reports a failure (a Responses `error` or `response.failed` event) raises
    ModelFailedError: a stream that failed midway is never a complete answer."""

    def __init__(self) -> None:
        self._pieces: list[str] = []
        self._ending: dict[str, Any] = {}
        self._streamed_items: set[Any] = set()  # Responses items whose text came as deltas

    def text(self, chunk: Any) -> str:
        """The new text of one chunk ("" when it carries none)."""
        kind = chunk.get("type") if isinstance(chunk, dict) else None
        if kind in ("error", "response.failed"):
            error = chunk if kind == "error" else (chunk.get("response") or {}).get("error") or {}
            said = error.get("message") or "no message"
            raise ModelFailedError(f"the model's stream reported an error: {said}")
        if kind == "response.output_text.delta":
            self._streamed_items.add(chunk.get("item_id"))
        if kind == "response.output_item.done":  # an item sent whole, not as deltas
            item = chunk.get("item") or {}
            streamed = item.get("id") in self._streamed_items or None in self._streamed_items
            text = "" if streamed else answer_text({"output": [item]})
        else:
            text = chunk_text(chunk)
        if kind in ("response.completed", "response.incomplete"):
            self._ending.update(reply_ending(chunk.get("response")))
        elif isinstance(chunk, dict) and kind is None:
            self._ending.update(reply_ending(chunk))
        self._pieces.append(text)
        return text

    def record(self) -> dict[str, Any]:
        """The output row of the whole stream: token counts are missing unless said."""
        ending = {"finish_reason": "answer", "tokens_in": None, "tokens_out": None}
        return {"answer": "".join(self._pieces), **ending, **self._ending}
