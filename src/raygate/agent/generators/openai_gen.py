"""A generator that calls any OpenAI-compatible chat endpoint, whole or streamed: timeouts,
transient errors retried by the controller loop, token counts from the server's `usage`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from raygate.agent.generators.base import Generation, GenerationRequest
from raygate.agent.generators.chat import chat_messages, reply_to_generation
from raygate.config import OpenAIGeneratorConfig
from raygate.errors import GeneratorError, TransientGeneratorError
from raygate.secrets import get_secret
from raygate.text import tokenize


class OpenAIGenerator:
    """One chat completion per request; a batch's requests are sent concurrently."""

    def __init__(self, config: OpenAIGeneratorConfig) -> None:
        import openai

        self._openai = openai
        self._config = config
        # Retries belong to the controller loop (tenacity, with backoff and a deadline).
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=get_secret(config.api_key_env) or "unset",
            timeout=config.timeout_s,
            max_retries=0,
        )

    def count_tokens(self, text: str) -> int:
        """An estimate (raygate's word tokenizer): the server's tokenizer is not known here."""
        return len(tokenize(text))

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        if len(requests) == 1:
            return [self._complete(requests[0])]
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            return list(pool.map(self._complete, requests))

    def _complete(self, request: GenerationRequest) -> Generation:
        with self._errors():
            response = self._create(request)
        return self._generation(response.choices[0].message.content or "", response.usage, request)

    def stream(self, request: GenerationRequest, on_piece: Callable[[str], None]) -> Generation:
        """One request streamed (`stream=True`), each text delta handed to `on_piece` as it
        arrives; the server's usage comes in the last chunk. An exception from `on_piece`
        closes the connection, which stops the server's generation."""
        pieces: list[str] = []
        usage = None
        with self._errors():
            chunks = self._create(request, stream=True, stream_options={"include_usage": True})
            with chunks:
                for chunk in chunks:
                    usage = chunk.usage or usage
                    text = chunk.choices[0].delta.content if chunk.choices else None
                    if text:
                        pieces.append(text)
                        on_piece(text)
        return self._generation("".join(pieces), usage, request)

    def _create(self, request: GenerationRequest, **options: Any):
        """One chat completion request for `request`, greedy, with the config's limits."""
        return self._client.chat.completions.create(
            model=self._config.model,
            messages=chat_messages(request, self._config.tools_in_prompt),
            max_tokens=self._config.max_new_tokens,
            temperature=0.0,
            **options,
        )

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """The endpoint's failures as generator errors: transient ones are retried."""
        errors = self._openai
        try:
            yield
        except (errors.APITimeoutError, errors.APIConnectionError, errors.RateLimitError) as exc:
            raise TransientGeneratorError(f"{self._config.base_url}: {exc}") from None
        except errors.APIStatusError as exc:
            if exc.status_code >= 500:
                raise TransientGeneratorError(f"{self._config.base_url}: {exc}") from None
            raise GeneratorError(f"{self._config.base_url} refused the request: {exc}") from None

    @staticmethod
    def _generation(text: str, usage, request: GenerationRequest) -> Generation:
        cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None)
        return reply_to_generation(
            text,
            request,
            tokens_in=usage.prompt_tokens if usage else None,
            tokens_out=usage.completion_tokens if usage else None,
            tokens_cached=cached or 0,
        )
