"""The OpenAI Responses API wire format raygate speaks (text in, text out): the request,
the response object, and its server-sent events."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from raygate.schemas import INPUTS_HELP, ApiRequest
from raygate.serving.openai_schema import (
    Served,
    TextFormat,
    ToolChoice,
    finish_reason,
    usage,
)


class InputText(BaseModel):
    """One text part of an input message."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["input_text", "text", "output_text"] = Field(description="A text part.")
    text: str = Field(description="The text.")


class InputMessage(BaseModel):
    """One message of the input conversation."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    role: Literal["system", "developer", "user", "assistant"] = Field(description="Its author.")
    content: str | list[InputText] = Field(description="Text, or text parts.")

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content


class TextConfig(BaseModel):
    """The `text` option: its format must be plain text."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    format: TextFormat | None = Field(None, description="Only {type: text}.")


class ResponsesRequest(ApiRequest):
    """POST /v1/responses. Sampling settings and other options are accepted and ignored: the
    released model's own config decides how it generates."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str = Field(min_length=1, description="The served model name (see GET /v1/models).")
    input: str | list[InputMessage] = Field(description="A question, or the conversation.")
    instructions: str | None = Field(None, description="A system message put first.")
    stream: bool = Field(False, description="Answer as server-sent events.")
    user: str | None = Field(None, max_length=256, description="End-user id (sticky routing).")
    text: TextConfig | None = Field(None, description="Output format: plain text only.")
    tool_choice: ToolChoice | None = Field(
        None, description="auto or none: client-defined `tools` are accepted but never called."
    )
    inputs: dict[str, Any] | None = Field(None, description=INPUTS_HELP)

    def conversation(self) -> list[dict[str, str]]:
        """The input as role/content messages, instructions first."""
        turns = (
            [{"role": "user", "content": self.input}]
            if isinstance(self.input, str)
            else [{"role": m.role, "content": m.text()} for m in self.input]
        )
        system = [{"role": "system", "content": self.instructions}] if self.instructions else []
        return system + turns


def response_body(prediction: dict[str, Any], served: Served, in_progress: bool = False):
    """A `response` object for one answer, with raygate's served fields: `incomplete` (with
    its reason, the text so far kept) when the answer was cut at a limit or filtered."""
    status, incomplete = ("in_progress", None) if in_progress else _status(prediction)
    return {
        "id": f"resp_{served.trace_id}",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "incomplete_details": incomplete,
        "error": None,
        "model": served.model_id,
        "output": [] if in_progress else [_message(prediction, served, status)],
        "usage": _usage(usage(prediction)),
        # the model calls only its own tools, never a client's
        "tools": [],
        "tool_choice": "none",
        "parallel_tool_calls": False,
        "raygate_finish_reason": prediction.get("finish_reason"),
        **served.model_dump(),
    }


def _message(prediction: dict[str, Any], served: Served, status: str) -> dict[str, Any]:
    """The response's one output item: the assistant's message (no text part yet while in
    progress)."""
    content = [] if status == "in_progress" else [_text_part(prediction.get("answer") or "")]
    return {"type": "message", "id": f"msg_{served.trace_id}", "status": status,
            "role": "assistant", "content": content}  # fmt: skip


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _status(prediction: dict[str, Any]) -> tuple[str, dict[str, str] | None]:
    """The Responses API's status of an answer, read as chat completions' finish reason."""
    reason = finish_reason(prediction)
    if reason == "stop":
        return "completed", None
    return "incomplete", {"reason": "max_output_tokens" if reason == "length" else reason}


def _usage(tokens: dict[str, int] | None) -> dict[str, int] | None:
    """Chat-completions usage in the Responses API's names; null when nothing was counted."""
    if tokens is None:
        return None
    return {"input_tokens": tokens["prompt_tokens"], "output_tokens": tokens["completion_tokens"],
            "total_tokens": tokens["total_tokens"]}  # fmt: skip


class ResponseEvents:
    """The server-sent events of one streamed response, numbered in order, as OpenAI sends
    them (the openai SDK's `responses.stream()` helper needs each): the response created,
    its message item and text part added, the text deltas, then each of those done and the
    response completed (or incomplete)."""

    def __init__(self, served: Served) -> None:
        self._served, self._sequence = served, 0
        self._item = {"item_id": f"msg_{served.trace_id}", "output_index": 0, "content_index": 0}

    def _event(self, kind: str, **fields: Any) -> str:
        document = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return f"event: {kind}\ndata: {json.dumps(document)}\n\n"

    def start(self) -> str:
        response = response_body({}, self._served, in_progress=True)
        return "".join([
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
            self._event("response.output_item.added", output_index=0,
                        item=_message({}, self._served, "in_progress")),
            self._event("response.content_part.added", part=_text_part(""), **self._item),
        ])  # fmt: skip

    def text(self, piece: str) -> str:
        return self._event("response.output_text.delta", delta=piece, logprobs=[], **self._item)

    def end(self, prediction: dict[str, Any]) -> list[str]:
        response = response_body(prediction, self._served)
        (message,) = response["output"]
        text = prediction.get("answer") or ""
        return [
            self._event("response.output_text.done", text=text, logprobs=[], **self._item),
            self._event("response.content_part.done", part=_text_part(text), **self._item),
            self._event("response.output_item.done", output_index=0, item=message),
            self._event(f"response.{response['status']}", response=response),
        ]

    def error(self, message: str) -> list[str]:
        return [self._event("error", code="model_error", message=message, param=None)]
