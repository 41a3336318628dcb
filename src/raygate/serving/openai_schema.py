"""The OpenAI chat-completions wire format raygate speaks: requests, responses, stream chunks."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from raygate.schemas import INPUTS_HELP, ApiRequest


class TextPart(BaseModel):
    """One text part of a message's content list (other keys a client adds are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["text"] = Field(description="Only text parts are supported.")
    text: str = Field(description="The text.")


class ChatMessage(BaseModel):
    """One message of the conversation. The other fields of OpenAI's messages (`refusal`,
    `annotations`, `tool_calls`, `tool_call_id`, `audio`), which a client sends back with an
    earlier reply, are accepted and ignored: the model gets role and text."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    role: Literal["system", "developer", "user", "assistant", "tool"] = Field(
        description="Who wrote the message."
    )
    content: str | list[TextPart] | None = Field(None, description="Text, or text parts.")
    name: str | None = Field(None, description="Optional author name.")

    @field_validator("content", mode="before")
    @classmethod
    def _text_parts_only(cls, content: Any) -> Any:
        for i, part in enumerate(content if isinstance(content, list) else ()):
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            if kind != "text":
                raise ValueError(f"part {i} is of type {kind!r}; only text parts are supported")
        return content

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class TextFormat(BaseModel):
    """An output format: only plain text. A request for JSON (`json_object`, `json_schema`)
    is refused rather than answered with text its client cannot parse."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["text"] = Field(description="Only 'text': the model does not guarantee JSON.")


# What a client may ask of tools: the model calls only its own, never the client's.
ToolChoice = Literal["auto", "none"]

# Why a request option the model cannot honour is refused, by the field that asks for it.
UNSUPPORTED_REASONS = {
    "response_format": "the served model answers in plain text and does not guarantee JSON",
    "text": "the served model answers in plain text and does not guarantee JSON",
    "logprobs": "the served model does not report token log-probabilities",
    "top_logprobs": "the served model does not report token log-probabilities",
    "tool_choice": "the served model calls only its own tools, never a client's",
    "echo": "the served model does not repeat the prompt",
    "suffix": "the served model does not write toward a suffix",
    "best_of": "the served model gives one answer per request",
}


class StreamOptions(BaseModel):
    """Streaming options; others that OpenAI-compatible servers take (vLLM's
    `continuous_usage_stats`) are accepted and ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    include_usage: bool = Field(False, description="Send a last chunk with token usage.")


class ChatCompletionRequest(ApiRequest):
    """POST /v1/chat/completions. Sampling settings are accepted and ignored: the released
    model's own config decides how it generates, so that what was evaluated is what runs.
    Fields other OpenAI-compatible servers accept (vLLM's `top_k`, `repetition_penalty`, …)
    are ignored too, so that their clients work unchanged."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str = Field(min_length=1, description="The served model name (see GET /v1/models).")
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation so far.")
    stream: bool = Field(False, description="Answer as server-sent events.")
    stream_options: StreamOptions | None = Field(None, description="Streaming options.")
    user: str | None = Field(None, max_length=256, description="End-user id (sticky routing).")
    n: Literal[1] = Field(1, description="Choices per request; only 1.")
    temperature: float | None = Field(None, ge=0, le=2, description="Ignored (see above).")
    top_p: float | None = Field(None, ge=0, le=1, description="Ignored (see above).")
    max_tokens: int | None = Field(None, ge=1, description="Ignored (see above).")
    max_completion_tokens: int | None = Field(None, ge=1, description="Ignored (see above).")
    seed: int | None = Field(None, description="Ignored (see above).")
    stop: str | list[str] | None = Field(None, description="Ignored (see above).")
    metadata: dict[str, str] | None = Field(None, description="Ignored; accepted for clients.")
    # What the model cannot give is refused (a 422 naming the field), never silently dropped.
    response_format: TextFormat | None = Field(None, description="Only {type: text}.")
    logprobs: Literal[False] | None = Field(None, description="Not available from the model.")
    top_logprobs: Literal[0] | None = Field(None, description="Not available from the model.")
    tool_choice: ToolChoice | None = Field(
        None, description="auto or none: client-defined `tools` are accepted but never called."
    )
    inputs: dict[str, Any] | None = Field(None, description=INPUTS_HELP)

    def conversation(self) -> list[dict[str, str]]:
        """The messages as role/content pairs."""
        return [{"role": m.role, "content": m.text()} for m in self.messages]


class Usage(BaseModel):
    """Token usage of one completion."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Served(BaseModel):
    """What every response says about who answered it."""

    variant: str = Field(description="champion or canary.")
    model_id: str = Field(description="The model that answered, as name@version.")
    trace_id: str = Field(description="Trace id of the request.")


def finish_reason(prediction: dict[str, Any]) -> str:
    """OpenAI's finish_reason for an answered request: a refusal is `content_filter`, a step
    or token limit `length` (a model's own `length` too); raygate's own reason stays in
    `raygate_finish_reason` beside it."""
    reason = prediction.get("finish_reason")
    if prediction.get("refused") or reason in ("refused", "content_filter"):
        return "content_filter"
    return "length" if reason in ("max_steps", "length") else "stop"


def usage(prediction: dict[str, Any]) -> dict[str, int] | None:
    """Token usage as the model reported it; null, never zeros, from a model that counts no
    tokens (e.g. a pyfunc that returns only text)."""
    prompt, completion = prediction.get("tokens_in"), prediction.get("tokens_out")
    if prompt is None or completion is None:
        return None
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    ).model_dump()


def completion_body(prediction: dict[str, Any], served: Served) -> dict[str, Any]:
    """A chat.completion object for one prediction, with raygate's served fields."""
    return {
        "id": f"chatcmpl-{served.trace_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": served.model_id,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": prediction.get("answer") or ""},
                "finish_reason": finish_reason(prediction),
                "logprobs": None,
            }
        ],
        "usage": usage(prediction),
        "raygate_finish_reason": prediction.get("finish_reason"),
        "fallback": prediction.get("fallback"),
        **served.model_dump(),
    }


class ChunkStream:
    """chat.completion.chunk objects of one answer: the role first, then text as it comes,
    the finish reason, and usage last when asked."""

    def __init__(self, served: Served, include_usage: bool) -> None:
        self._include_usage = include_usage
        self._base = {
            "id": f"chatcmpl-{served.trace_id}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": served.model_id,
            **served.model_dump(),
        }

    def _chunk(self, delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": reason, "logprobs": None}
        return {**self._base, "choices": [choice]}

    def start(self) -> dict[str, Any]:
        return self._chunk({"role": "assistant", "content": ""})

    def text(self, piece: str) -> dict[str, Any]:
        return self._chunk({"content": piece})

    def end(self, prediction: dict[str, Any]) -> list[dict[str, Any]]:
        chunks = [self._chunk({}, finish_reason(prediction))]
        if self._include_usage:
            chunks.append({**self._base, "choices": [], "usage": usage(prediction)})
        return chunks


def sse(document: dict[str, Any]) -> str:
    """One server-sent event carrying a JSON document."""
    return f"data: {json.dumps(document)}\n\n"


class ChatEvents:
    """A streamed chat completion as server-sent events, `[DONE]` last."""

    def __init__(self, served: Served, include_usage: bool) -> None:
        self._chunks = ChunkStream(served, include_usage)

    def start(self) -> str:
        return sse(self._chunks.start())

    def text(self, piece: str) -> str:
        return sse(self._chunks.text(piece))

    def end(self, prediction: dict[str, Any]) -> list[str]:
        return [*(sse(chunk) for chunk in self._chunks.end(prediction)), "data: [DONE]\n\n"]

    def error(self, message: str) -> list[str]:
        return stream_error(message)


def stream_error(message: str) -> list[str]:
    """How an OpenAI-style stream ends when the model failed after its 200: an error event."""
    error = {"message": message, "type": "model_error", "code": "model_error"}
    return [sse({"error": error}), "data: [DONE]\n\n"]


def words(answer: str) -> list[str]:
    """An answer cut into words, each but the first with its leading space."""
    return [w if i == 0 else " " + w for i, w in enumerate(answer.split(" "))] if answer else []
