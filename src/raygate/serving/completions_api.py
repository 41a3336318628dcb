"""OpenAI's legacy completions wire format (POST /v1/completions), as load tools such as
vLLM's benchmark send it by default: the prompt asked as one user turn, the answer its text."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from raygate.schemas import INPUTS_HELP, ApiRequest
from raygate.serving.openai_schema import (
    Served,
    StreamOptions,
    finish_reason,
    sse,
    stream_error,
    usage,
)


class CompletionRequest(ApiRequest):
    """POST /v1/completions with one text prompt. Sampling settings (`max_tokens`,
    `temperature`, `stop`, …) are accepted and ignored, as for chat completions: the released
    config decides. What the model cannot give is refused (a 422 naming the field)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str = Field(min_length=1, description="The served model name (see GET /v1/models).")
    prompt: str | Annotated[list[str], Field(min_length=1, max_length=1)] = Field(
        description="One text prompt (or a list holding one)."
    )
    stream: bool = Field(False, description="Answer as server-sent events.")
    stream_options: StreamOptions | None = Field(None, description="Streaming options.")
    user: str | None = Field(None, max_length=256, description="End-user id (sticky routing).")
    n: Literal[1] = Field(1, description="Choices per request; only 1.")
    best_of: Literal[1] | None = Field(None, description="Only 1.")
    echo: Literal[False] | None = Field(None, description="The prompt is not repeated.")
    suffix: Literal[""] | None = Field(None, description="No text after the completion.")
    logprobs: Literal[0] | None = Field(None, description="Not available from the model.")
    inputs: dict[str, Any] | None = Field(None, description=INPUTS_HELP)

    @field_validator("prompt", mode="before")
    @classmethod
    def _one_text_prompt(cls, prompt: Any) -> Any:
        one = isinstance(prompt, str) or (
            isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str)
        )
        if not one:
            raise ValueError("send one text prompt per request (a string, or a list of one)")
        return prompt

    def conversation(self) -> list[dict[str, str]]:
        """The prompt as one user turn."""
        prompt = self.prompt[0] if isinstance(self.prompt, list) else self.prompt
        return [{"role": "user", "content": prompt}]


def _choice(text: str, reason: str | None) -> dict[str, Any]:
    return {"index": 0, "text": text, "finish_reason": reason, "logprobs": None}


def text_completion_body(prediction: dict[str, Any], served: Served) -> dict[str, Any]:
    """A text_completion object for one prediction, with raygate's served fields."""
    return {
        "id": f"cmpl-{served.trace_id}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": served.model_id,
        "choices": [_choice(prediction.get("answer") or "", finish_reason(prediction))],
        "usage": usage(prediction),
        "raygate_finish_reason": prediction.get("finish_reason"),
        "fallback": prediction.get("fallback"),
        **served.model_dump(),
    }


class CompletionEvents:
    """A streamed text completion as server-sent events: text as it comes, the finish
    reason, usage last when asked, then `[DONE]`."""

    def __init__(self, served: Served, include_usage: bool) -> None:
        self._include_usage = include_usage
        self._base = {
            "id": f"cmpl-{served.trace_id}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": served.model_id,
            **served.model_dump(),
        }

    def start(self) -> str:
        return ""  # a completion stream opens with its first text

    def text(self, piece: str) -> str:
        return sse({**self._base, "choices": [_choice(piece, None)]})

    def end(self, prediction: dict[str, Any]) -> list[str]:
        events = [sse({**self._base, "choices": [_choice("", finish_reason(prediction))]})]
        if self._include_usage:
            events.append(sse({**self._base, "choices": [], "usage": usage(prediction)}))
        return [*events, "data: [DONE]\n\n"]

    def error(self, message: str) -> list[str]:
        return stream_error(message)
