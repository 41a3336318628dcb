"""The agent's controller loop: plan → act (tools) → observe → reflect, within hard limits.

Each turn the generator either answers or asks for tool calls; tool results are appended as
observations and the generator runs again. Every way the loop can end is a typed outcome:
it never hangs and never raises for a limit.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from raygate.agent.generators import Generation, GenerationRequest, Generator
from raygate.agent.tools import Toolbox, ToolResult
from raygate.errors import TransientGeneratorError

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


class StepTimeout(Exception):
    """A generator call outlived its step budget."""


def call_with_timeout(fn: Callable[[], Generation], timeout_s: float) -> Generation:
    """Run fn in a daemon thread and stop waiting after timeout_s (the thread is abandoned)."""
    box: queue.Queue = queue.Queue(maxsize=1)

    def target() -> None:
        try:
            box.put((True, fn()))
        except BaseException as exc:  # handed to the caller below
            box.put((False, exc))

    threading.Thread(target=target, daemon=True).start()
    try:
        ok, value = box.get(timeout=max(timeout_s, 0.0))
    except queue.Empty:
        raise StepTimeout(f"no answer within {timeout_s:.2f} s") from None
    if not ok:
        raise value
    return value


@dataclass
class ControllerLoop:
    """Runs one request through the generator and the toolbox under LoopLimits."""

    generator: Generator
    toolbox: Toolbox
    limits: LoopLimits = field(default_factory=LoopLimits)
    fallback: tuple[str, Generator] | None = None  # (name, a cheaper generator)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def run(self, request: GenerationRequest) -> LoopResult:
        request = replace(request, tools=self.toolbox.schemas())
        started, seen, results, stale = self.clock(), set(), [], 0
        usage = [0, 0]
        for step in range(1, self.limits.max_steps + 1):
            remaining = self.limits.deadline_s - (self.clock() - started)
            if remaining <= 0:
                return self._end(
                    "deadline", None, step - 1, results, usage, "total deadline reached"
                )
            generation, fallback, failure = self._generate(
                request, min(self.limits.step_timeout_s, remaining)
            )
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

    def _generate(self, request: GenerationRequest, timeout_s: float):
        """(generation, fallback name, None) or (None, None, (outcome, detail))."""
        try:
            return self._with_retries(self.generator, request, timeout_s), None, None
        except StepTimeout as exc:
            failure = ("step_timeout", str(exc))
        except Exception as exc:  # after retries: the primary generator is out for this request
            failure = ("error", f"{type(exc).__name__}: {exc}")
        if self.fallback is None:
            return None, None, failure
        name, generator = self.fallback
        try:
            return (
                self._with_retries(generator, request, timeout_s),
                f"{name} after {failure[0]}",
                None,
            )
        except Exception as exc:
            return None, None, ("error", f"fallback {name} failed too: {exc}")

    def _with_retries(
        self, generator: Generator, request: GenerationRequest, timeout_s: float
    ) -> Generation:
        retrying = Retrying(
            retry=retry_if_exception_type(TransientGeneratorError),
            wait=wait_random_exponential(multiplier=0.1, max=self.limits.retry_max_wait_s),
            stop=stop_after_attempt(self.limits.retry_attempts),
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(call_with_timeout, lambda: generator.generate([request])[0], timeout_s)

    @staticmethod
    def _end(outcome, generation, steps, results, usage, detail, fallback=None) -> LoopResult:
        return LoopResult(
            outcome, generation, steps, tuple(results), fallback, detail, usage[0], usage[1]
        )
