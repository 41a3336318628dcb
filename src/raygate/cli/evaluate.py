"""`raygate eval`: evaluate a model on a gold set with Ray Data and log the run to MLflow."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from raygate.capacity import EVAL_START_TIMEOUT_S
from raygate.cli.output import (
    JSON_OPTION,
    console,
    emit_json,
    err_console,
    handles_errors,
    waiting_note,
)
from raygate.evaluation.deadlines import ROW_TIMEOUT_S, ModelTimeout


@handles_errors
def evaluate(
    model_uri: str = typer.Argument(
        ..., help="models:/NAME@ALIAS, models:/NAME/VERSION or a logged model URI."
    ),
    gold: str = typer.Option(
        ..., "--gold", metavar="NAME|PATH", help="Built-in gold set (smoke, dev) or a JSONL file."
    ),
    workers: int = typer.Option(
        2, "--workers", min=1, help="Ray Data actors, each loading the model once."
    ),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Rows per predict() call."),
    num_cpus: float = typer.Option(1.0, "--num-cpus", min=0, help="CPUs reserved per actor."),
    num_gpus: float = typer.Option(0.0, "--num-gpus", min=0, help="GPUs reserved per actor."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap confidence intervals."),
    start_timeout: float = typer.Option(
        EVAL_START_TIMEOUT_S,
        "--start-timeout",
        min=1,
        help="Seconds the actors may take to get their resources on the cluster and load the "
        "model; then the eval fails, saying what the cluster has free.",
    ),
    row_timeout: float = typer.Option(
        ROW_TIMEOUT_S,
        "--row-timeout",
        min=0.001,
        help="Seconds the pyfunc may take to answer a row (a predict() call on a batch: this "
        "times its rows); a row with no answer by then fails as timed out, so a model stuck in "
        "predict (an API called without a timeout) cannot stall the eval. Not for --engine.",
    ),
    engine_file: Path | None = typer.Option(
        None,
        "--engine",
        metavar="FILE",
        help="LLM engine YAML (kind: vllm | http): answer with ray.data.llm instead of a pyfunc; "
        "MODEL_URI is then only the served model's label.",
    ),
    input_map: list[str] = typer.Option(
        [],
        "--input-map",
        metavar="INPUT=FIELD",
        help="Fill the model's input INPUT from gold field FIELD (repeatable), e.g. "
        "question=query. By default every gold column the signature accepts goes by its name, "
        "and a model whose one text input has another name gets the query in it.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Evaluate MODEL_URI on a gold set; prints the MLflow run id and the metrics.

    The gold set is validated and the model resolved before any work starts. Latency is
    measured by the eval for any model; figures a model does not report (tokens, cost) are
    listed as missing, never as zero.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from raygate.evaluation.engines import load_engine_options
    from raygate.evaluation.pipeline import PipelineOptions
    from raygate.evaluation.runner import evaluate as run_eval
    from raygate.packaging.inputs import parse_input_map
    from raygate.registry.mlflow_registry import MlflowRegistry

    options = PipelineOptions(
        workers=workers, batch_size=batch_size, num_cpus=num_cpus, num_gpus=num_gpus,
        start_timeout_s=start_timeout, row_timeout_s=row_timeout,
    )  # fmt: skip
    mapping = parse_input_map(input_map)
    engine = load_engine_options(engine_file) if engine_file else None
    progress = Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err_console, disable=as_json or not err_console.is_terminal,
    )  # fmt: skip
    with progress:
        task = progress.add_task(f"evaluating on {gold}", total=None)
        result = run_eval(
            model_uri,
            gold,
            MlflowRegistry(),
            options,
            seed,
            on_rows=lambda n: progress.advance(task, n),
            engine=engine,
            on_start=lambda total: progress.update(task, total=total),
            input_map=mapping,
            on_wait=waiting_note(start_timeout),
        )
    # Six significant figures, not six decimals: a cost of 5e-8 USD is not 0.
    metrics = {k: float(f"{v:.6g}") for k, v in result.metrics.values.items()}
    if as_json:
        emit_json({
            "run_id": result.run_id, "model_id": result.model_id, "goldset": result.goldset.name,
            "goldset_hash": result.goldset.content_hash, "metrics": metrics,
            "missing": list(result.metrics.missing),
            "failed_rows": [asdict(kind) for kind in result.failed_rows],
        })  # fmt: skip
        return
    console.print(f"eval run [bold]{result.run_id}[/] · {result.model_id} on {result.goldset.name}")
    for key in sorted(k for k in metrics if "." not in k):
        console.print(f"  {key:<26} {metrics[key]:.4g}", highlight=False)
    if result.metrics.missing:
        console.print(f"  not reported: {', '.join(result.metrics.missing)}", highlight=False)
    for kind in result.failed_rows:
        console.print(f"  failed: {kind.rows} row(s), first {kind.first_id}: {kind.first_error}",
                      highlight=False, markup=False)  # fmt: skip
    if any(kind.kind == ModelTimeout.__name__ for kind in result.failed_rows):
        console.print("  (a model that is slow, not stuck: give it longer with --row-timeout)")
