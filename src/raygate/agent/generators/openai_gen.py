"""A generator that calls any OpenAI-compatible chat endpoint: timeouts, transient errors
retried by the controller loop, token counts from the server's `usage`."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

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
        errors = self._openai
        try:
            response = self._client.chat.completions.create(
                model=self._config.model,
                messages=chat_messages(request, self._config.tools_in_prompt),
                max_tokens=self._config.max_new_tokens,
                temperature=0.0,
            )
        except (errors.APITimeoutError, errors.APIConnectionError, errors.RateLimitError) as exc:
            raise TransientGeneratorError(f"{self._config.base_url}: {exc}") from None
        except errors.APIStatusError as exc:
            if exc.status_code >= 500:
                raise TransientGeneratorError(f"{self._config.base_url}: {exc}") from None
            raise GeneratorError(f"{self._config.base_url} refused the request: {exc}") from None
        usage = response.usage
        cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None)
        return reply_to_generation(
            response.choices[0].message.content or "",
            request,
            tokens_in=usage.prompt_tokens if usage else None,
            tokens_out=usage.completion_tokens if usage else None,
            tokens_cached=cached or 0,
        )
