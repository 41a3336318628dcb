"""MLflow model signature derived from the predict() pydantic schemas (one source of truth)."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from mlflow.models import ModelSignature
from mlflow.types.schema import Array, ColSpec, Schema
from pydantic import BaseModel

from raygate.schemas import PredictInput, PredictOutput

_SCALARS = {str: "string", bool: "boolean", int: "long", float: "double"}


def _colspec(name: str, annotation: Any) -> ColSpec:
    required = True
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        required = len(args) == len(get_args(annotation))
        (annotation,) = args
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return ColSpec(Array(_SCALARS[item]), name, required=required)
    return ColSpec(_SCALARS[annotation], name, required=required)


def _schema(model: type[BaseModel]) -> Schema:
    return Schema([_colspec(name, f.annotation) for name, f in model.model_fields.items()])


def agent_signature() -> ModelSignature:
    """Inputs: query (+ optional ids); outputs: every PredictOutput field."""
    return ModelSignature(inputs=_schema(PredictInput), outputs=_schema(PredictOutput))
