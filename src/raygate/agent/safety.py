"""Safety around the generator: refusal rules and PII redaction in and out.

Every decision is returned as a flag for the request's `safety_flags`.
"""

from __future__ import annotations

from dataclasses import dataclass

from raygate.agent.refusal_rules import RULES
from raygate.constants import REFUSAL_ANSWER, SELF_HARM_ANSWER
from raygate.telemetry.pii import find_pii, redact


@dataclass(frozen=True)
class InputVerdict:
    """What the input guard decided: the text the generator may see, and why."""

    text: str
    refused_category: str | None
    reason: str | None
    flags: tuple[str, ...]


def screen_input(query: str, refuse: bool = True, redact_pii: bool = True) -> InputVerdict:
    """Refuse disallowed requests; redact PII so that no generator ever sees it."""
    flags: list[str] = []
    text = query
    found = find_pii(query) if redact_pii else []
    if found:
        text = redact(query, found)
        flags.append("pii_redacted_input:" + ",".join(sorted({m.kind for m in found})))
    if refuse:
        for rule in RULES:
            if rule.matches(text):
                flags.append(f"refused:{rule.category}")
                return InputVerdict(text, rule.category, rule.reason, tuple(flags))
    return InputVerdict(text, None, None, tuple(flags))


def refusal_answer(category: str) -> str:
    """What the user reads when a request is declined: care and a pointer to help for
    self-harm, a plain refusal otherwise."""
    return SELF_HARM_ANSWER if category == "self_harm" else REFUSAL_ANSWER


def screen_output(answer: str) -> tuple[str, tuple[str, ...]]:
    """The answer with any PII redacted, and the flag recording it."""
    found = find_pii(answer)
    if not found:
        return answer, ()
    return redact(answer, found), (
        "pii_redacted_output:" + ",".join(sorted({m.kind for m in found})),
    )
