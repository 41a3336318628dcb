"""The agent's controller loop: plan → act (tools) → observe → reflect, within hard limits.

Each turn the generator either answers or asks for tool calls; tool results are appended as
observations and the generator runs again. Every way the loop can end is a typed outcome:
it never hangs and never raises for a limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Literal

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential
from tenacity.retry import retry_base
from tenacity.stop import stop_base

from raygate.agent.generators import Generation, GenerationRequest, Generator
from raygate.agent.streaming import AnswerStream, StreamClosed
from raygate.agent.timeouts import StepTimeout, call_with_timeout
from raygate.agent.tools import Toolbox, ToolResult
from raygate.errors import TransientGeneratorError
from raygate.telemetry import semconv
from raygate.telemetry.tracing import set_known, tracer

Outcome = Literal["answer", "max_steps", "step_timeout", "deadline", "loop_detected", "error"]


@dataclass(frozen=True)
class LoopLimits:
    """Hard limits of one request."""

    max_steps: int = 4
    step_timeout_s: float = 30.0
    deadline_s: float = 60.0
    max_stale_steps: int = 2  # tool steps in a row that brought no new information
    retry_attempts: int = 3
    retry_max_wait_s: float = 2.0


@dataclass(frozen=True)
class LoopResult:
    """How the loop ended, the final generation (if any) and what happened on the way."""

    outcome: Outcome
    generation: Generation | None
    steps: int
    tool_results: tuple[ToolResult, ...] = ()
    fallback: str | None = None
    detail: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    llm_ms: float = 0.0  # time in generator calls, retries and backoff included


class _Past(stop_base):
    """Stop retrying once the request's deadline has passed."""

    def __init__(self, deadline_at: float, clock: Callable[[], float]) -> None:
        self._deadline_at, self._clock = deadline_at, clock

    def __call__(self, retry_state) -> bool:
        return self._clock() >= self._deadline_at


@dataclass
class ControllerLoop:
    """Runs one request through the generator and the toolbox under LoopLimits."""

    generator: Generator
    toolbox: Toolbox
    limits: LoopLimits = field(default_factory=LoopLimits)
    fallback: tuple[str, Generator] | None = None  # (name, a cheaper generator)
    model: tuple[str, str] = ("unknown", "unknown")  # (provider, model) as spans name them
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def run(self, request: GenerationRequest, stream: AnswerStream | None = None) -> LoopResult:
        """One request. Its deadline is one budget for every step, retry, backoff and the
        fallback: once it has passed the request ends with `deadline`, whatever is running.
        With `stream`, each turn of a generator that can stream hands it its text as it is
        decoded; once text has gone out, a failure ends the request (no retry, no fallback:
        the client would read the answer twice)."""
        request = replace(request, tools=self.toolbox.schemas())
        seen, results, stale = set(), [], 0
        deadline_at = self.clock() + self.limits.deadline_s
        usage = [0, 0, 0.0]  # tokens in, tokens out, seconds in the generator
        for step in range(1, self.limits.max_steps + 1):
            if self.clock() >= deadline_at:
                return self._end(
                    "deadline", None, step - 1, results, usage, "total deadline reached"
                )
            llm_started = self.clock()
            generation, fallback, failure = self._generate(request, deadline_at, stream)
            usage[2] += self.clock() - llm_started
            if generation is None:
                return self._end(failure[0], None, step, results, usage, failure[1])
            usage[0] += generation.tokens_in or 0
            usage[1] += generation.tokens_out or 0
            if not generation.tool_calls:
                return self._end("answer", generation, step, results, usage, "", fallback)
            new_information = False
            for call in generation.tool_calls:
                if call.key() in seen:
                    return self._end(
                        "loop_detected", None, step, results, usage, f"repeated call {call.key()}"
                    )
                seen.add(call.key())
                attributes = {semconv.OPERATION: "execute_tool", semconv.TOOL_NAME: call.name}
                with tracer().start_as_current_span(
                    f"execute_tool {call.name}", attributes=attributes
                ):
                    result = self.toolbox.call(call)
                new_information |= result.content not in request.observations
                results.append(result)
                request = replace(request, observations=(*request.observations, result.content))
            stale = 0 if new_information else stale + 1
            if stale >= self.limits.max_stale_steps:
                return self._end("loop_detected", None, step, results, usage, "no new information")
        return self._end(
            "max_steps", None, self.limits.max_steps, results, usage, "step limit reached"
        )

    def _generate(
        self, request: GenerationRequest, deadline_at: float, stream: AnswerStream | None
    ):
        """(generation, fallback name, None) or (None, None, (outcome, detail))."""
        try:
            generation = self._with_retries(
                self.generator, request, deadline_at, self.model, stream
            )
            return generation, None, None
        except StreamClosed:
            raise  # the client went away: nothing more to do for it
        except Exception as exc:  # after retries: the primary generator is out for this request
            failure = self._failure(exc, deadline_at)
        if self.fallback is None or failure[0] == "deadline" or (stream and stream.started):
            return None, None, failure
        name, generator = self.fallback
        try:
            generation = self._with_retries(generator, request, deadline_at, (name, name), stream)
        except Exception as exc:
            outcome, detail = self._failure(exc, deadline_at)
            return None, None, (outcome, f"fallback {name} failed too: {detail}")
        return generation, f"{name} after {failure[0]}", None

    def _failure(self, exc: Exception, deadline_at: float) -> tuple[Outcome, str]:
        if self.clock() >= deadline_at:
            return "deadline", f"total deadline reached ({type(exc).__name__}: {exc})"
        if isinstance(exc, StepTimeout):
            return "step_timeout", str(exc)
        return "error", f"{type(exc).__name__}: {exc}"

    def _with_retries(
        self,
        generator: Generator,
        request: GenerationRequest,
        deadline_at: float,
        model: tuple[str, str],
        stream: AnswerStream | None = None,
    ) -> Generation:
        provider, model_name = model
        streaming = _streaming(generator) if stream is not None else None
        attributes = {
            semconv.OPERATION: "chat",
            semconv.PROVIDER: provider,
            semconv.REQUEST_MODEL: model_name,
        }

        def attempt() -> Generation:
            with tracer().start_as_current_span(
                f"chat {model_name}", attributes=attributes, record_exception=False
            ) as span:
                budget = min(self.limits.step_timeout_s, deadline_at - self.clock())
                if budget <= 0:
                    raise StepTimeout("no time left before the deadline")
                timed = replace(request, timeout_s=budget)
                if stream is not None:
                    stream.begin_turn(tools_offered=bool(request.tools))
                if streaming is not None:
                    call = partial(streaming.stream, timed, stream.piece)
                else:
                    call = partial(_generate_one, generator, timed)
                try:
                    generation = call_with_timeout(call, budget)
                except StepTimeout:
                    if stream is not None:
                        stream.abandon_turn()  # its thread may still be decoding
                    raise
                _describe_chat(span, generation)
                return generation

        retrying = Retrying(
            retry=retry_if_exception_type(TransientGeneratorError) & _NotStarted(stream),
            wait=wait_random_exponential(multiplier=0.1, max=self.limits.retry_max_wait_s),
            stop=stop_after_attempt(self.limits.retry_attempts) | _Past(deadline_at, self.clock),
            sleep=lambda s: self.sleep(max(0.0, min(s, deadline_at - self.clock()))),
            reraise=True,
        )
        return retrying(attempt)

    @staticmethod
    def _end(outcome, generation, steps, results, usage, detail, fallback=None) -> LoopResult:
        return LoopResult(
            outcome, generation, steps, tuple(results), fallback, detail, usage[0], usage[1],
            usage[2] * 1000,
        )  # fmt: skip


def _generate_one(generator: Generator, request: GenerationRequest) -> Generation:
    return generator.generate([request])[0]


def _streaming(generator: Generator):
    """The generator that can stream this request (a batching wrapper's inner one), or None."""
    inner = getattr(generator, "inner", generator)
    return inner if callable(getattr(inner, "stream", None)) else None


class _NotStarted(retry_base):
    """Retry only while no text of the request has gone out."""

    def __init__(self, stream: AnswerStream | None) -> None:
        self._stream = stream

    def __call__(self, retry_state) -> bool:
        return self._stream is None or not self._stream.started


def _describe_chat(span, generation: Generation) -> None:
    set_known(span, {
        semconv.INPUT_TOKENS: generation.tokens_in,
        semconv.OUTPUT_TOKENS: generation.tokens_out,
        semconv.CACHED_TOKENS: generation.tokens_cached,
        semconv.FINISH_REASONS: ["tool_calls" if generation.tool_calls else "stop"],
    })  # fmt: skip
