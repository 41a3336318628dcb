"""The text of one streamed chunk, whatever MLflow flavor produced it: a string, raygate's
`answer`, a chat-completion or ChatAgent delta, or a Responses API text delta; and the output
row raygate's own agent sends as its stream's last chunk."""

from __future__ import annotations

from typing import Any

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
    for key in ("answer", "content", "text"):
        if isinstance(chunk.get(key), str):
            return chunk[key]
    return ""
