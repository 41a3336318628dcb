"""`raygate predict`: ask a logged or registered agent one or more questions."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from raygate.cli.output import JSON_OPTION, console, emit_json, handles_errors, working


@handles_errors
def predict(
    model_uri: str = typer.Argument(
        ..., help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/agent or a folder."
    ),
    queries: list[str] = typer.Argument(
        ..., metavar="QUERY...", help="One or more questions; - reads them from stdin, one a line."
    ),
    user_id: str | None = typer.Option(None, "--user-id", help="Sent as user_id on every row."),
    session_id: str | None = typer.Option(None, "--session-id", help="Sent as session_id."),
    input_map: list[str] = typer.Option(
        [],
        "--input-map",
        metavar="INPUT=FIELD",
        help="Fill the model's input INPUT from request field FIELD (repeatable), e.g. "
        "question=query; a model whose one text input has another name gets the query anyway.",
    ),
    inputs: list[str] = typer.Option(
        [],
        "--input",
        metavar="NAME=VALUE",
        help="The model's other input NAME, sent with every query (repeatable), e.g. "
        "context='Returns are accepted for 30 days.'; as `inputs` on POST /v1/predict.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Answer QUERY... with the model at MODEL_URI (aliases resolve to a version first)."""
    from raygate.errors import InputError, ModelFailedError
    from raygate.packaging.inputs import parse_input_map
    from raygate.packaging.loading import load_agent
    from raygate.registry.mlflow_registry import MlflowRegistry
    from raygate.telemetry.tracing import configure_tracing, flush

    if queries == ["-"]:
        queries = [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
        if not queries:
            raise InputError("stdin held no question: give one a line (QUERY - reads stdin)")
    blank = [str(i) for i, query in enumerate(queries, 1) if not query.strip()]
    if blank:
        raise InputError(f"QUERY {', '.join(blank)} is blank: pass the question to ask")
    undecodable = [f"QUERY {i}" for i, query in enumerate(queries, 1) if not _utf8(query)]
    undecodable += [f"--input {given.split('=', 1)[0]}" for given in inputs if not _utf8(given)]
    if undecodable:
        raise InputError(
            f"{', '.join(undecodable)} {'is' if len(undecodable) == 1 else 'are'} not UTF-8 "
            "text; pass UTF-8 (a terminal set to another encoding sends its bytes: "
            "LANG=C.UTF-8 sets UTF-8)"
        )
    given = _inputs(inputs)
    configure_tracing("raygate-cli")  # each answer's trace: `raygate trace show TRACE_ID`
    with working(f"loading {model_uri}", as_json):
        loaded = load_agent(
            model_uri, MlflowRegistry(), parse_input_map(input_map), request_inputs=True
        )
    given = _typed(given, loaded.accepted_inputs)
    rows = [{"query": q, "user_id": user_id, "session_id": session_id, "inputs": given}
            for q in queries]  # fmt: skip
    missing = loaded.unfilled(rows[0])
    if missing:
        raise InputError(
            f"the model needs {', '.join(missing)}, which no option fills: pass "
            + " ".join(f"--input {name}=VALUE" for name in missing)
            + " (or --input-map INPUT=FIELD to fill an input from query, user_id or session_id)"
        )
    try:
        records = loaded.predict_records(rows)
    except Exception as exc:  # the model's own code: say what it raised, not where
        raise ModelFailedError(f"the model failed: {type(exc).__name__}: {exc}") from None
    model_id = loaded.version.model_id if loaded.version else model_uri
    records = [{"model_id": model_id, **record} for record in records]  # any pyfunc's rows
    if as_json:
        emit_json({"model_uri": model_uri, "predictions": records})
    else:
        for query, record in zip(queries, records, strict=True):
            _print_answer(query, record)
    flush()  # after the answers: a slow or unreachable collector delays the exit, not them


def _inputs(items: list[str]) -> dict[str, str] | None:
    """--input NAME=VALUE pairs as the model's other inputs; None without any."""
    from raygate.errors import InputError

    given = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--input wants NAME=VALUE (e.g. context='…'), got '{item}'")
        given[name.strip()] = value
    return given or None


def _typed(given: dict[str, str] | None, accepted) -> dict | None:
    """A value for an input the model's signature does not type as text read as JSON (5, 0.2,
    true, [1, 2]), as the API's clients send it; text stays as typed."""
    import json

    from raygate.errors import InputError

    typed = {a.name for a in accepted or () if not a.text}
    if not given or not typed:
        return given
    values = dict(given)
    for name in typed & set(given):
        try:
            values[name] = json.loads(given[name])
        except ValueError:
            raise InputError(
                f"--input {name}={given[name]}: the model takes {name} as a value, not text; "
                "give it as JSON (e.g. 5, 0.2, true or [1, 2])"
            ) from None
    return values


def _print_answer(query: str, record: dict) -> None:
    console.print(f"[bold]Q:[/] {escape(query)}", highlight=False)
    error = record.get("error")
    answer = f"[red]{escape(str(error))}[/]" if error else escape(str(record.get("answer", "")))
    console.print(f"[bold]A:[/] {answer}", highlight=False)
    console.print(f"   [dim]{escape(_details(record))}[/]", highlight=False)


def _details(record: dict) -> str:
    """What a prediction says about itself: raygate's agent says all of it, a pyfunc less."""
    parts = [str(record["model_id"])]
    if record.get("prompt_id"):
        parts.append(str(record["prompt_id"]))
    if "citations" in record:
        parts.append(f"cites {', '.join(record['citations'] or []) or 'none'}")
    if record.get("latency_ms_total") is not None:
        parts.append(f"{record['latency_ms_total']:.1f} ms")
    if record.get("trace_id"):
        parts.append(f"trace {record['trace_id']}")
    return " · ".join(parts)


def _utf8(arg: str) -> bool:
    """Whether a command-line argument was UTF-8 (Python decodes other bytes to surrogates)."""
    from raygate.schemas import lone_surrogate_at

    return lone_surrogate_at(arg) is None
