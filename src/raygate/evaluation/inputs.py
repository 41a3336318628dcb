"""What each gold row sends to the model: every gold column the model's signature accepts
(renamed with an input map such as question=query), never the expected answers or how
they are matched."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from raygate.errors import EvaluationError
from raygate.goldset import GoldRow
from raygate.packaging.inputs import (
    QUERY,
    InputShape,
    SignatureInput,
    effective_input_map,
    list_typed_query,
    shaped,
)

NEVER_SENT = frozenset({"expected", "match"})  # the answer key stays with the scorer


def _gold_value(gold: GoldRow, field: str) -> Any:
    if field in NEVER_SENT:
        return None
    if field in GoldRow.model_fields:
        return getattr(gold, field)
    return (gold.metadata or {}).get(field)


def input_columns(
    accepted: Sequence[SignatureInput] | None, input_map: Mapping[str, str]
) -> dict[str, str]:
    """Model input column → gold field it is filled from. Without a signature only `query`
    is sent; an input map's target must be an accepted input (see effective_input_map)."""
    if accepted is None:
        return {QUERY: input_map.get(QUERY, QUERY)}
    mapping = effective_input_map(accepted, input_map)
    columns = {a.name: mapping.get(a.name, a.name) for a in accepted}
    return {name: field for name, field in columns.items() if field not in NEVER_SENT}


def check_required(
    accepted: Sequence[SignatureInput] | None, columns: Mapping[str, str], gold: GoldRow
) -> None:
    """Refuse, before any work, a model whose required inputs the gold rows cannot fill."""
    if accepted is None:
        return
    missing = [
        a.name for a in accepted
        if a.required and (a.name not in columns or _gold_value(gold, columns[a.name]) is None)
    ]  # fmt: skip
    if missing:
        raise EvaluationError(
            f"the model requires input(s) {', '.join(missing)} that the gold rows do not fill; "
            f'give each row\'s metadata a value for it ({{"metadata": {{"{missing[0]}": '
            "…}}), or map it to a gold field with --input-map INPUT=FIELD (e.g. question=query)"
        )


def check_query_is_text(
    accepted: Sequence[SignatureInput] | None, columns: Mapping[str, str]
) -> None:
    """Refuse, before any work, a model whose input for the query is typed as a list: every
    row would fail MLflow's schema check."""
    reason = list_typed_query(accepted, columns)
    if reason:
        raise EvaluationError(reason)


def model_input(
    golds: Sequence[GoldRow], columns: Mapping[str, str], shape: InputShape
) -> pd.DataFrame | list[Any]:
    """The rows sent to predict(): a frame without the columns no gold row fills, or a
    type-hinted model's list."""
    if shape != "columns":
        rows = [{name: _gold_value(g, field) for name, field in columns.items()} for g in golds]
        return shaped(rows, shape)
    data = {name: [_gold_value(g, field) for g in golds] for name, field in columns.items()}
    return pd.DataFrame({k: v for k, v in data.items() if any(x is not None for x in v)})
