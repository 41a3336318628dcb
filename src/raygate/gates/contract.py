"""The contract gate: signature compatibility, bound prompt variables, valid tool schemas.

It reads model metadata and small artifacts only (no model load, no Ray), so it runs in
seconds in any CI.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlflow.types.schema import DataType

from raygate.constants import TOOL_SCHEMAS_ARTIFACT
from raygate.errors import ModelLoadError, PromptError
from raygate.gates.decide import GateResult
from raygate.packaging.conversation import interface_of
from raygate.packaging.inputs import (
    default_input_map,
    input_shape,
    signature_inputs,
    unfilled_inputs,
)
from raygate.packaging.loading import model_info
from raygate.schemas import PredictInput


def _type_name(kind) -> str:
    return kind.name if isinstance(kind, DataType) else str(kind)  # "long", "Array(string)"


def _columns(schema) -> dict[str, tuple[str, bool]]:
    if schema is None:
        return {}
    return {
        s.name: (_type_name(s.type), s.required) for s in schema.inputs if getattr(s, "name", None)
    }


def asked_as(signature) -> str:
    """How raygate asks a model with this signature: `query` rows (named columns), a
    conversation (`messages`, `responses`: chat and agent flavors), or a type-hinted model's
    typed list (`objects`, `texts`)."""
    shape = input_shape(signature)
    if shape != "columns":
        return shape
    return interface_of(signature_inputs(signature))


def signature_problems(candidate, champion) -> list[str]:
    """Ways the candidate's signature breaks callers of the champion's (empty: compatible).
    Callers reach the model through raygate's API, which asks each kind of model its own way
    (a conversation for chat and agent flavors, a typed list for type-hinted models): between
    models asked differently, only a required input that no request field fills breaks them;
    between models asked alike, an output removed or retyped does too, and so does an input
    of a typed list; query models' inputs are compared by what callers send."""
    asked = asked_as(candidate)
    if asked != asked_as(champion):
        accepted = signature_inputs(candidate)
        if asked in ("messages", "responses") or accepted is None:
            return []  # asked with the conversation
        unfilled = unfilled_inputs(accepted, default_input_map(accepted), PredictInput.model_fields)
        return [f"required input '{n}' is filled by no request field (unless the serving "
                "config's input_map fills it)" for n in unfilled]  # fmt: skip
    problems = _query_input_problems(candidate, champion) if asked == "query" else []
    for side in ("inputs", "outputs") if asked != "query" else ("outputs",):
        new, old = _columns(getattr(candidate, side)), _columns(getattr(champion, side))
        for name, (kind, _) in old.items():
            if name not in new:
                problems.append(f"{side[:-1]} '{name}' was removed")
            elif new[name][0] != kind:
                problems.append(f"{side[:-1]} '{name}' changed type {kind} → {new[name][0]}")
        if side == "inputs":
            added = [n for n, (_, required) in new.items() if n not in old and required]
            problems += [f"new required input '{n}' breaks existing callers" for n in added]
    return problems


def _query_input_problems(candidate, champion) -> list[str]:
    """Two models asked by query rows, as raygate's callers see them: each model's one text
    input is filled from the request's `query` whatever its name (`input`, `question`), and
    a request sends the model's other inputs by name in `inputs` (one a model does not take
    is left unsent). The candidate breaks callers where it requires an input they do not
    send, or takes one they send as another type."""
    new_accepted, old_accepted = signature_inputs(candidate) or [], signature_inputs(champion) or []
    new_types, old_types = _columns(candidate.inputs), _columns(champion.inputs)
    from_request = set(default_input_map(new_accepted)) | set(PredictInput.model_fields)
    old_from_query = default_input_map(old_accepted)
    sent = {a.name for a in old_accepted if a.name not in old_from_query}
    problems = []
    for a in new_accepted:
        if a.name in from_request:
            continue
        if a.name in sent:
            kind, was = new_types[a.name][0], old_types[a.name][0]
            if kind != was:
                problems.append(f"input '{a.name}' changed type {was} → {kind}")
        elif a.required:
            problems.append(f"new required input '{a.name}' breaks existing callers")
    return problems


def tool_schema_problems(schemas: object) -> list[str]:
    """What is wrong with a model's tool declarations: each needs a unique name and
    `parameters` that is a valid JSON Schema (draft 2020-12) of an object whose `required`
    fields are among its `properties`."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(schemas, list):
        return [f"{TOOL_SCHEMAS_ARTIFACT} must hold a list of tools, not {type(schemas).__name__}"]
    problems, seen = [], set()
    for index, tool in enumerate(schemas):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
            problems.append(f"tool #{index + 1}: needs a non-empty string 'name'")
            continue
        name = tool["name"]
        if name in seen:
            problems.append(f"tool '{name}': the name is declared twice")
        seen.add(name)
        parameters = tool.get("parameters")
        if not isinstance(parameters, dict):
            problems.append(f"tool '{name}': needs 'parameters', a JSON Schema object")
            continue
        try:
            Draft202012Validator.check_schema(parameters)
        except SchemaError as exc:
            problems.append(f"tool '{name}': {exc.message}")
            continue
        if parameters.get("type") != "object":
            problems.append(f"tool '{name}': parameters must describe an object (type: object)")
        missing = sorted(
            set(parameters.get("required", [])) - set(parameters.get("properties", {}))
        )
        if missing:
            problems.append(
                f"tool '{name}': required field(s) {', '.join(missing)} not in properties"
            )
    return problems


def check_contract(candidate_uri: str, champion_uri: str | None) -> list[GateResult]:
    """The three contract gates for a candidate, against the champion when there is one."""
    candidate = model_info(candidate_uri)
    artifacts = _artifacts_dir(candidate_uri)
    return [
        _signature_gate(
            candidate, model_info(champion_uri) if champion_uri else None, champion_uri
        ),
        _prompt_gate(artifacts),
        _tools_gate(artifacts),
    ]


_NO_SIGNATURE = (
    "the model has no signature, so no release can be checked against it; log it with one: "
    "`mlflow.pyfunc.log_model(..., input_example=...)` infers it, or pass `signature=`"
)


def _signature_gate(candidate, champion, champion_uri: str | None) -> GateResult:
    name, threshold = "contract.signature", "no caller broken (a field they use kept, same type)"
    if candidate.signature is None:
        return GateResult(name, None, threshold, "fail", _NO_SIGNATURE)
    if champion is None:
        return GateResult(name, None, threshold, "skipped", "no champion to compare against")
    if champion.signature is None:
        return GateResult(name, None, threshold, "pass", f"{champion_uri} has no signature")
    problems = signature_problems(candidate.signature, champion.signature)
    asked = asked_as(candidate.signature), asked_as(champion.signature)
    adapted = f" (asked as {asked[0]}, the champion as {asked[1]})" if asked[0] != asked[1] else ""
    detail = "; ".join(problems) or f"compatible with {champion_uri}{adapted}"
    return GateResult(name, float(len(problems)), threshold, "fail" if problems else "pass", detail)


def _prompt_gate(artifacts: Path) -> GateResult:
    from raygate.agent.prompts import BOUND_VARIABLES, load_prompt_bundle

    name, threshold = "contract.prompts", f"variables ⊆ {{{', '.join(sorted(BOUND_VARIABLES))}}}"
    bundle_path = artifacts / "prompt_bundle.yaml"
    if not bundle_path.is_file():
        return GateResult(
            name, None, threshold, "skipped", "no prompt bundle (not a raygate agent)"
        )
    try:
        bundle = load_prompt_bundle(bundle_path)
    except PromptError as exc:
        return GateResult(name, None, threshold, "fail", str(exc))
    unbound = {
        t.prompt_id: sorted(t.variables() - BOUND_VARIABLES)
        for t in bundle.templates
        if t.variables() - BOUND_VARIABLES
    }
    detail = "; ".join(f"{pid} leaves {', '.join(v)} unbound" for pid, v in unbound.items())
    verdict = "fail" if unbound else "pass"
    return GateResult(
        name,
        float(len(unbound)),
        threshold,
        verdict,
        detail or ", ".join(t.prompt_id for t in bundle.templates),
    )


def _tools_gate(artifacts: Path) -> GateResult:
    name, threshold = "contract.tools", "valid JSON Schema (2020-12), unique names"
    path = artifacts / TOOL_SCHEMAS_ARTIFACT
    if not path.is_file():
        detail = f"the model declares no tools (no {TOOL_SCHEMAS_ARTIFACT} artifact)"
        return GateResult(name, None, threshold, "skipped", detail)
    try:
        schemas = json.loads(path.read_text())
    except ValueError as exc:
        return GateResult(name, None, threshold, "fail", f"{TOOL_SCHEMAS_ARTIFACT}: {exc}")
    if schemas == []:
        return GateResult(name, 0.0, threshold, "skipped", "the model declares no tools")
    problems = tool_schema_problems(schemas)
    detail = "; ".join(problems) or f"{len(schemas)} tools: " + ", ".join(
        t["name"] for t in schemas
    )
    return GateResult(name, float(len(problems)), threshold, "fail" if problems else "pass", detail)


def _artifacts_dir(uri: str) -> Path:
    """The model's `artifacts/` folder, downloaded if the store is remote."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri)) / "artifacts"
    except (MlflowException, OSError) as exc:
        raise ModelLoadError(
            f"cannot download model {uri}: {getattr(exc, 'message', exc)}"
        ) from None
