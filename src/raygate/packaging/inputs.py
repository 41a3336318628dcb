"""Which field fills each of a pyfunc's signature inputs: the input of the same name, an
explicit input map (question=query), or, for a model whose one text input has another name
(question, prompt, text), the query."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from raygate.errors import ConfigError

QUERY = "query"
CONVERSATION_INPUTS = frozenset({"messages", "input"})  # chat and agent flavors: asked whole


@dataclass(frozen=True)
class SignatureInput:
    """One named input of a model's signature."""

    name: str
    required: bool
    text: bool


def signature_inputs(signature) -> list[SignatureInput] | None:
    """The named inputs of an MLflow signature; None without a signature or named inputs."""
    if signature is None or signature.inputs is None:
        return None
    named = [
        SignatureInput(spec.name, spec.required, _is_text(spec))
        for spec in signature.inputs.inputs
        if getattr(spec, "name", None)
    ]
    return named or None


def _is_text(spec) -> bool:
    return getattr(getattr(spec, "type", None), "name", None) == "string"


def default_input_map(accepted: Sequence[SignatureInput] | None) -> dict[str, str]:
    """{INPUT: "query"} for a model that takes one text input under another name (its one
    required input, or its only input); nothing for any other model."""
    if accepted is None:
        return {}
    names = {a.name for a in accepted}
    if QUERY in names or names & CONVERSATION_INPUTS:
        return {}
    candidates = [a for a in accepted if a.required] or list(accepted)
    if len(candidates) == 1 and candidates[0].text:
        return {candidates[0].name: QUERY}
    return {}


def parse_input_map(items: Iterable[str], option: str = "--input-map") -> dict[str, str]:
    """INPUT=FIELD pairs from the command line as {INPUT: FIELD}."""
    mapping = {}
    for item in items:
        name, sep, field = item.partition("=")
        if not sep or not name.strip() or not field.strip():
            raise ConfigError(f"{option} wants INPUT=FIELD (e.g. question=query), got '{item}'")
        mapping[name.strip()] = field.strip()
    return mapping


def effective_input_map(
    accepted: Sequence[SignatureInput] | None, input_map: Mapping[str, str]
) -> dict[str, str]:
    """The default map with the caller's on top; an input the signature lacks is refused."""
    if accepted is not None:
        names = {a.name for a in accepted}
        unknown = sorted(set(input_map) - names)
        if unknown:
            raise ConfigError(
                f"the input map names {', '.join(unknown)}, which the model's signature does "
                f"not accept (it takes {', '.join(sorted(names))})"
            )
    return {**default_input_map(accepted), **input_map}


def unfilled_inputs(
    accepted: Sequence[SignatureInput] | None,
    input_map: Mapping[str, str],
    available: Iterable[str],
) -> list[str]:
    """Required inputs that neither a field of their own name nor the input map fills."""
    if accepted is None:
        return []
    fields = set(available)
    return [a.name for a in accepted if a.required and input_map.get(a.name, a.name) not in fields]
