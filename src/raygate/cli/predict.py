"""`raygate predict`: ask a logged or registered agent one or more questions."""

from __future__ import annotations

import typer
from rich.markup import escape

from raygate.cli.output import JSON_OPTION, console, emit_json, handles_errors, working


@handles_errors
def predict(
    model_uri: str = typer.Argument(
        ..., help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/agent or a folder."
    ),
    queries: list[str] = typer.Argument(..., metavar="QUERY...", help="One or more questions."),
    user_id: str | None = typer.Option(None, "--user-id", help="Sent as user_id on every row."),
    session_id: str | None = typer.Option(None, "--session-id", help="Sent as session_id."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Answer QUERY... with the model at MODEL_URI (aliases resolve to a version first)."""
    from raygate.packaging.loading import load_agent
    from raygate.registry.mlflow_registry import MlflowRegistry
    from raygate.telemetry.tracing import configure_tracing, flush

    configure_tracing("raygate-cli")  # each answer's trace: `raygate trace show TRACE_ID`
    with working(f"loading {model_uri}", as_json):
        loaded = load_agent(model_uri, MlflowRegistry())
    rows = [{"query": q, "user_id": user_id, "session_id": session_id} for q in queries]
    records = loaded.predict_records(rows)
    flush()
    if as_json:
        emit_json({"model_uri": model_uri, "predictions": records})
        return
    for query, record in zip(queries, records, strict=True):
        console.print(f"[bold]Q:[/] {escape(query)}", highlight=False)
        answer = (
            escape(record["answer"])
            if not record["error"]
            else f"[red]{escape(record['error'])}[/]"
        )
        console.print(f"[bold]A:[/] {answer}", highlight=False)
        cited = ", ".join(record["citations"]) or "none"
        console.print(
            f"   [dim]{record['model_id']} · {record['prompt_id']} · cites {cited} · "
            f"{record['latency_ms_total']:.1f} ms · trace {record['trace_id']}[/]",
            highlight=False,
        )
