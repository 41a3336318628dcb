"""Which field fills each of a pyfunc's signature inputs: the input of the same name, an
explicit input map (question=query), or, for a model whose one text input has another name
(question, prompt, text), the query; and the shape its predict() takes them in (named
columns, or the typed lists of MLflow 3's type-hinted models: `list[str]`, `list[Model]`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from raygate.errors import ConfigError

QUERY = "query"
CONVERSATION_INPUTS = frozenset({"messages", "input"})  # chat and agent flavors: asked whole
# The name raygate gives the unnamed input of a `list[str]` model (`--input-map text=FIELD`).
TEXT_INPUT = "text"

# How predict() takes its rows: a frame of named columns; one object per row (a model typed
# `list[SomePydanticModel]` or `list[dict]`); one string per row (typed `list[str]`).
InputShape = Literal["columns", "objects", "texts"]


@dataclass(frozen=True)
class SignatureInput:
    """One named input of a model's signature."""

    name: str
    required: bool
    text: bool
    list_type: str | None = None  # an MLflow Array input's type, e.g. "Array(string)"


def input_shape(signature) -> InputShape:
    """How a model with this signature takes its rows: a lone unnamed object or string input
    is a type-hinted model's list; anything else is named columns."""
    specs = signature.inputs.inputs if signature is not None and signature.inputs else []
    if len(specs) != 1 or getattr(specs[0], "name", None):
        return "columns"
    kind = getattr(specs[0], "type", None)
    if hasattr(kind, "properties"):  # mlflow.types.schema.Object
        return "objects"
    return "texts" if _is_text(kind) else "columns"


def signature_inputs(signature) -> list[SignatureInput] | None:
    """The named inputs of an MLflow signature (a typed list's object fields, and `text` for
    a `list[str]`); None without a signature or named inputs."""
    if signature is None or signature.inputs is None:
        return None
    shape = input_shape(signature)
    if shape == "objects":
        properties = signature.inputs.inputs[0].type.properties
        return [SignatureInput(p.name, p.required, _is_text(p.dtype)) for p in properties]
    if shape == "texts":
        return [SignatureInput(TEXT_INPUT, required=True, text=True)]
    named = [
        SignatureInput(spec.name, spec.required, _is_text(getattr(spec, "type", None)),
                       _list_type(getattr(spec, "type", None)))
        for spec in signature.inputs.inputs
        if getattr(spec, "name", None)
    ]  # fmt: skip
    return named or None


TEXT_LIST = "Array(string)"


def _list_type(kind) -> str | None:
    """An MLflow Array type as it prints ("Array(string)"); None for any other type."""
    return str(kind) if type(kind).__name__ == "Array" else None


def conversation_inputs(accepted: Iterable[SignatureInput]) -> set[str]:
    """The inputs that carry a whole conversation: `messages` or `input` typed as a list of
    messages (chat and agent flavors), not as text (LangChain's chains, for one, take their
    question as a text `input`)."""
    return {a.name for a in accepted if a.name in CONVERSATION_INPUTS and not a.text}


def _is_text(kind) -> bool:
    return getattr(kind, "name", None) == "string"


def shaped(rows: Sequence[Mapping[str, Any]], shape: InputShape) -> list[Any]:
    """Request rows (input name → value, unset inputs left out) as a type-hinted model's
    predict() takes them: its objects, or its strings."""
    if shape == "texts":
        return [row.get(TEXT_INPUT) for row in rows]
    return [{name: value for name, value in row.items() if value is not None} for row in rows]


def default_input_map(accepted: Sequence[SignatureInput] | None) -> dict[str, str]:
    """{INPUT: "query"} for a model that takes one text input under another name (its one
    required input, or its only input); nothing for any other model."""
    if accepted is None:
        return {}
    names = {a.name for a in accepted}
    if QUERY in names or conversation_inputs(accepted):
        return {}
    candidates = [a for a in accepted if a.required] or list(accepted)
    texts = [a for a in candidates if a.text]
    if len(texts) == 1:
        return {texts[0].name: QUERY}
    # One input typed a list of text instead: what MLflow infers from an input example such
    # as {"question": ["…"]}. It is the query's too, so that the model is refused saying so
    # (see list_typed_query), not for an input that nothing fills.
    listed = [a for a in candidates if a.list_type == TEXT_LIST]
    if not texts and len(listed) == 1:
        return {listed[0].name: QUERY}
    return {}


def list_typed_query(
    accepted: Sequence[SignatureInput] | None, fills: Mapping[str, str]
) -> str | None:
    """Why a model cannot be asked the query (None if it can): the input that gets it
    (`fills`: input name → the request field it is filled from) is typed as a list per row,
    so MLflow's schema check refuses every question."""
    for given in accepted or ():
        if fills.get(given.name) == QUERY and given.list_type:
            return (
                f"the model's input '{given.name}' is typed {given.list_type}, a list per row, "
                "but gets each query as text, which MLflow refuses; MLflow infers a list from "
                f'an input example such as {{"{given.name}": ["…"]}} (one row whose '
                f'{given.name} is a list): log the model with input_example={{"{given.name}": '
                '"…"} or a DataFrame'
            )
    return None


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
