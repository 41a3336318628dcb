"""What each gold row sends to the model: every gold column the model's signature accepts
(renamed with an input map such as question=query), never the expected answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from raygate.errors import EvaluationError
from raygate.goldset import GoldRow

NEVER_SENT = frozenset({"expected"})  # the answer key stays with the scorer


def _gold_value(gold: GoldRow, field: str) -> Any:
    if field in NEVER_SENT:
        return None
    if field in GoldRow.model_fields:
        return getattr(gold, field)
    return (gold.metadata or {}).get(field)


def input_columns(
    accepted: Sequence[tuple[str, bool]] | None, input_map: Mapping[str, str]
) -> dict[str, str]:
    """Model input column → gold field it is filled from. Without a signature only `query`
    is sent; an input map's target must be an accepted input."""
    if accepted is None:
        return {"query": input_map.get("query", "query")}
    names = {name for name, _ in accepted}
    unknown = sorted(set(input_map) - names)
    if unknown:
        raise EvaluationError(
            f"--input-map names {', '.join(unknown)}, which the model's signature does not "
            f"accept (it takes {', '.join(sorted(names))})"
        )
    columns = {name: input_map.get(name, name) for name in names}
    return {name: field for name, field in columns.items() if field not in NEVER_SENT}


def check_required(
    accepted: Sequence[tuple[str, bool]] | None, columns: Mapping[str, str], gold: GoldRow
) -> None:
    """Refuse, before any work, a model whose required inputs the gold rows cannot fill."""
    if accepted is None:
        return
    missing = [
        name for name, required in accepted
        if required and (name not in columns or _gold_value(gold, columns[name]) is None)
    ]  # fmt: skip
    if missing:
        raise EvaluationError(
            f"the model requires input(s) {', '.join(missing)} that the gold rows do not fill; "
            "map each to a gold field with --input-map INPUT=FIELD (e.g. question=query)"
        )


def input_frame(golds: Sequence[GoldRow], columns: Mapping[str, str]) -> pd.DataFrame:
    """The rows sent to predict(); a column no gold row fills is left out."""
    data = {name: [_gold_value(g, field) for g in golds] for name, field in columns.items()}
    return pd.DataFrame({k: v for k, v in data.items() if any(x is not None for x in v)})


def signature_inputs(signature) -> list[tuple[str, bool]] | None:
    """(name, required) of each named input of an MLflow signature; None without one."""
    if signature is None or signature.inputs is None:
        return None
    named = [(s.name, s.required) for s in signature.inputs.inputs if getattr(s, "name", None)]
    return named or None
