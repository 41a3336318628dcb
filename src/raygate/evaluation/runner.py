"""Run one evaluation: validate, resolve, stream the pipeline, log everything to one MLflow run."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_random

from raygate import constants as c
from raygate.capacity import ActorAsk, check_room, start_timed_out, starting_room
from raygate.cluster import ensure_ray
from raygate.errors import RAISED_LINE, EvaluationError, traceback_cause
from raygate.evaluation.engines import LlmEngineOptions, check_http_endpoint
from raygate.evaluation.inputs import check_query_is_text, check_required, input_columns
from raygate.evaluation.metrics import EvalMetrics, FailedRows, MetricsAccumulator
from raygate.evaluation.pipeline import ACTOR_RESTARTS, PipelineOptions, scored_batches
from raygate.evaluation.report import render_report
from raygate.evaluation.rows import EVAL_TABLE_SCHEMA
from raygate.goldset import GoldRow, GoldSetInfo, scan_goldset
from raygate.goldset.loader import gold_lines
from raygate.packaging.conversation import interface_of
from raygate.packaging.inputs import SignatureInput, signature_inputs
from raygate.packaging.loading import model_id_config, model_info, resolve_model_uri
from raygate.packaging.pricing import logged_prices
from raygate.registry.protocol import ModelRegistry
from raygate.telemetry.pii import redact
from raygate.tracking import configure_mlflow

LOG_TABLE_MAX_ROWS = 20_000  # larger eval tables are kept as Parquet only
SCHEMA_SAMPLE_ROWS = 1000  # gold rows read to infer the dataset schema MLflow shows


@dataclass(frozen=True)
class EvalResult:
    """One finished eval run."""

    run_id: str
    model_uri: str
    model_id: str
    goldset: GoldSetInfo
    metrics: EvalMetrics
    failed_rows: tuple[FailedRows, ...] = ()  # by kind of error, most first


def evaluate(
    model_uri: str,
    gold: str | Path,
    registry: ModelRegistry,
    options: PipelineOptions,
    seed: int = 0,
    on_rows: Callable[[int], None] | None = None,
    engine: LlmEngineOptions | None = None,
    on_start: Callable[[int], None] | None = None,
    input_map: dict[str, str] | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> EvalResult:
    """Evaluate a model on a gold set; every input is checked before Ray starts.

    With `engine`, `model_uri` is only a label for the served LLM the engine talks to.
    `on_start` gets the gold set's row count once it is validated; `on_rows` each batch's;
    `on_wait` a note when the actors must wait for resources other work holds.
    """
    import mlflow
    from ray.exceptions import ActorDiedError, GetTimeoutError, RayTaskError

    goldset = scan_goldset(gold)
    if on_start:
        on_start(goldset.rows)
    logged_model_id = None  # MLflow 3's LoggedModel id: its page lists this evaluation
    if engine is None:
        version = resolve_model_uri(model_uri, registry)
        pinned = version.uri if version else model_uri
        info = model_info(pinned)
        model_id = version.model_id if version else (info.model_id or pinned)
        logged_model_id = info.model_id
        model_config = model_id_config(info, version)
        logged_prices(
            info.metadata
        )  # prices it was logged with that do not validate: before any run
        model_params = _agent_params(info.run_id) | {"row_timeout_s": options.row_timeout_s}
        columns = _model_columns(signature_inputs(info.signature), input_map or {}, goldset)
        renamed = sorted(f"{name}={field}" for name, field in columns.items() if name != field)
        if renamed:  # how the gold rows reached the model is part of the evidence
            model_params["input_map"] = ",".join(renamed)
        options = replace(options, columns=tuple(sorted(columns.items())))
    else:
        if engine.kind == "http":
            check_http_endpoint(engine, _first_row(goldset.path).query)
        version, pinned, model_id, model_config = None, model_uri, model_uri, None
        model_params = {
            f"engine.{k}": v for k, v in engine.model_dump(exclude={"engine_kwargs"}).items()
        }
    tracking_uri = configure_mlflow()
    ensure_ray()
    if engine is None:
        ask = ActorAsk("eval actor", options.workers, options.num_cpus, options.num_gpus,
                       *options.set_by)  # fmt: skip
        actors, hint = f"{ask.describe()} (loading the model is part of starting)", ask.hint
        # an actor no node can host is an error before the run; too few free resources for
        # them all, the eval starts with those they hold
        starting, waiting = starting_room(ask)
        options = replace(options, starting_workers=starting)
        if waiting and on_wait:
            on_wait(waiting)
    else:
        actors = f"the LLM engine's {engine.concurrency} actor(s)"
        hint = "lower the engine file's concurrency"
        if engine.kind == "vllm":  # without a GPU for each replica, Ray would wait forever
            waiting = check_room(vllm_ask(engine))
            if waiting and on_wait:
                on_wait(waiting)
    with (
        tempfile.TemporaryDirectory(prefix="raygate-eval-") as tmp,
        _run_killed_on_interrupt(f"eval-{model_id}-{goldset.name}") as run,
    ):
        mlflow.set_tags({
            c.TAG_RUN_KIND: "eval", c.TAG_MODEL_URI: pinned, c.TAG_MODEL_ID: model_id,
            c.TAG_GOLDSET_NAME: goldset.name, c.TAG_GOLDSET_HASH: goldset.content_hash,
        })  # fmt: skip
        mlflow.log_params({
            "model_uri": model_uri, "model_id": model_id, "goldset": goldset.name,
            "goldset_hash": goldset.content_hash, "goldset_rows": goldset.rows, "seed": seed,
            "workers": options.workers, "batch_size": options.batch_size,
            "num_cpus_per_worker": options.num_cpus, "num_gpus_per_worker": options.num_gpus,
            **model_params,
        })  # fmt: skip
        dataset = _log_dataset(goldset, logged_model_id)
        options = replace(options, run_id=run.info.run_id)
        table_path = Path(tmp) / c.EVAL_TABLE_ARTIFACT
        accumulator = MetricsAccumulator()  # sums as rows stream by: memory flat in rows
        # closed on the way out, however it ends: a pipeline left open keeps its actors
        with (
            pq.ParquetWriter(table_path, EVAL_TABLE_SCHEMA) as writer,
            contextlib.closing(
                scored_batches(goldset.path, pinned, model_config, tracking_uri, options, engine)
            ) as batches,
        ):
            try:
                for batch in batches:
                    table = pa.Table.from_pandas(
                        batch[EVAL_TABLE_SCHEMA.names], schema=EVAL_TABLE_SCHEMA
                    )
                    writer.write_table(table, row_group_size=table.num_rows)
                    accumulator.add(batch)
                    if on_rows:
                        on_rows(len(batch))
            except GetTimeoutError:  # Ray Data's wait for the actor pool to start ran out
                raise start_timed_out(actors, options.start_timeout_s, hint) from None
            except ActorDiedError as exc:  # failed to start, or died on a batch and its retries
                if exc.actor_init_failed:  # the model did not load: a clean cause, not a crash
                    raise EvaluationError(
                        f"{actors} failed to start: {traceback_cause(str(exc))}; the MLflow run "
                        "is marked FAILED"
                    ) from None
                if engine is not None:
                    raise EvaluationError(
                        f"{actors} died, and again each time Ray restarted them: see the "
                        "error above (e.g. a model folder the GPU nodes lack, a GPU out of "
                        "memory); fix the engine file; the MLflow run is marked FAILED"
                    ) from None
                raise EvaluationError(
                    f"an eval actor's process died while predicting a batch, and again each of "
                    f"the {ACTOR_RESTARTS} times it was restarted and the batch retried: the "
                    "model crashes its process on some row (a segfault, os._exit) or runs out "
                    "of memory; find the row with `raygate predict MODEL_URI QUESTION`, or give "
                    "each actor more memory (fewer --workers, a smaller --batch-size); the "
                    "MLflow run is marked FAILED"
                ) from None
            except RayTaskError as exc:  # the engine's own stages: an answer it cannot read
                if engine is None:
                    raise
                raise EvaluationError(
                    f"the LLM engine's batch job stopped: {root_cause(exc)}; the endpoint "
                    "must answer every request as OpenAI's chat completions (a JSON body); "
                    "the MLflow run is marked FAILED"
                ) from None
        metrics = accumulator.finish(seed)
        returned = int(metrics.values[c.ROWS])
        if returned != goldset.rows:
            raise EvaluationError(f"pipeline returned {returned} rows for {goldset.rows} gold rows")
        _log_results(table_path, model_id, pinned, goldset, metrics, accumulator)
        _attach_traces(table_path, run.info.experiment_id, run.info.run_id)
        # Linked to the evaluated model and the gold set: the model's page lists this run.
        mlflow.log_metrics(metrics.values, model_id=logged_model_id, dataset=dataset)
    if version:
        registry.tag_version(version.name, version.version, {
            c.TAG_EVAL_RUN_ID: run.info.run_id, c.TAG_GOLDSET_HASH: goldset.content_hash,
        })  # fmt: skip
    return EvalResult(run.info.run_id, pinned, model_id, goldset, metrics,
                      tuple(accumulator.failed_rows))  # fmt: skip


@contextlib.contextmanager
def _run_killed_on_interrupt(run_name: str) -> Iterator[Any]:
    """An MLflow run that ends KILLED, not FAILED, when Ctrl-C stops the eval."""
    import mlflow

    with mlflow.start_run(run_name=run_name) as run:
        try:
            yield run
        except KeyboardInterrupt:
            mlflow.end_run("KILLED")
            raise KeyboardInterrupt(
                f"eval run {run.info.run_id} is marked KILLED in MLflow, with no figures"
            ) from None


def vllm_ask(engine: LlmEngineOptions) -> ActorAsk:
    """What the vLLM engine's replicas reserve: a GPU per tensor- and pipeline-parallel rank."""
    kwargs = engine.engine_kwargs
    gpus = kwargs.get("tensor_parallel_size", 1) * kwargs.get("pipeline_parallel_size", 1)
    return ActorAsk("vLLM engine replica", engine.concurrency, 0.0, float(gpus),
                    "the engine file's concurrency", "its tensor_parallel_size")  # fmt: skip


def root_cause(exc: BaseException) -> str:
    """Where a Ray task's failure began: the first exception its remote traceback names (the
    cause itself does not cross the process boundary), as one short redacted line."""
    found = RAISED_LINE.search(str(exc))
    name, said = found.groups() if found else (type(exc).__name__, str(exc))
    return f"{name}: {redact(said.split('Full Traceback')[0].strip())[:300]}"


def _model_columns(
    accepted: list[SignatureInput] | None, input_map: dict[str, str], goldset: GoldSetInfo
) -> dict[str, str]:
    """Model input → gold field, checked against the first gold row. A chat or agent flavor
    gets each query as a conversation's user message (and the row's metadata as its
    custom_inputs), with no input map."""
    if interface_of(accepted) != "query":
        if input_map:
            raise EvaluationError(
                "the model is a chat or agent flavor: each gold query reaches it as the "
                "conversation's user message (a gold row's metadata as its custom_inputs); "
                "drop --input-map"
            )
        return {"query": "query"}
    columns = input_columns(accepted, input_map)
    check_query_is_text(accepted, columns)
    check_required(accepted, columns, _first_row(goldset.path))
    return columns


def _agent_params(build_run_id: str | None) -> dict[str, str]:
    """The params of the run that logged the model (agent, prompt, retriever), prefixed."""
    import mlflow

    if not build_run_id:
        return {}
    try:
        params = mlflow.get_run(build_run_id).data.params
    except mlflow.exceptions.MlflowException:
        return {}
    return {f"agent.{k}": v for k, v in sorted(params.items())[:80]}


def _log_dataset(goldset: GoldSetInfo, logged_model_id: str | None):
    """The gold set as the run's dataset input (name, content hash as digest; MLflow keeps
    its schema and row count, not its rows), and the evaluated model as the run's model input.
    The schema is inferred from the first rows: the file is never read whole."""
    import mlflow
    from mlflow.entities import LoggedModelInput

    first = [line for line in islice(gold_lines(goldset.path), SCHEMA_SAMPLE_ROWS) if line.strip()]
    sample = pd.read_json(io.BytesIO(b"".join(first)), lines=True, dtype=False)
    with warnings.catch_warnings():  # a local path matches two equivalent source kinds
        warnings.filterwarnings("ignore", "The specified dataset source can be interpreted")
        sampled = mlflow.data.from_pandas(sample, source=str(goldset.path), name=goldset.name)
    dataset = _gold_dataset_class()(
        sampled.source, goldset.name, goldset.content_hash[:36], sampled.schema, goldset.rows
    )
    model = LoggedModelInput(logged_model_id) if logged_model_id else None
    _log_input(dataset, model)
    return dataset


def _already_logged(exc: BaseException) -> bool:
    """MLflow's error for a row another process inserted first (SQLite, MySQL, PostgreSQL)."""
    said = str(exc)
    return any(s in said for s in ("UNIQUE constraint", "Duplicate entry", "duplicate key"))


@retry(retry=retry_if_exception(_already_logged), stop=stop_after_attempt(3),
       wait=wait_random(0.05, 0.5), reraise=True)  # fmt: skip
def _log_input(dataset, model) -> None:
    """mlflow.log_input, again when an eval of the same gold set started at the same time
    logged the dataset between MLflow's lookup and its insert (the retry finds it)."""
    import mlflow

    mlflow.log_input(dataset, context="eval", model=model)


def _log_results(
    table_path: Path,
    model_id: str,
    pinned: str,
    goldset: GoldSetInfo,
    metrics: EvalMetrics,
    accumulator: MetricsAccumulator,
) -> None:
    """The eval table (Parquet; JSON too while small), the HTML report, missing metrics."""
    import mlflow

    mlflow.set_tag(c.TAG_MISSING_METRICS, ",".join(metrics.missing))
    mlflow.log_artifact(str(table_path))
    if goldset.rows <= LOG_TABLE_MAX_ROWS:
        mlflow.log_table(pq.read_table(table_path).to_pandas(), artifact_file="eval_table.json")
    report = render_report(
        model_id, pinned, goldset, metrics.values, metrics.missing,
        accumulator.distributions(), accumulator.failures,
    )  # fmt: skip
    mlflow.log_text(report, "report.html")


def _attach_traces(table_path: Path, experiment_id: str, run_id: str) -> None:
    """Each row's trace into MLflow under this run; how many made it is the run's tag."""
    import mlflow

    from raygate.evaluation.mlflow_traces import attach_traces

    attached, traced = attach_traces(_rows_to_trace(table_path), experiment_id, run_id)
    mlflow.set_tag(c.TAG_TRACES_ATTACHED, f"{attached}/{traced}")


def _rows_to_trace(table_path: Path) -> Iterator[dict[str, Any]]:
    """The table's rows, failed and wrong ones first (what a person opens a trace for), then
    the others; read as needed (attach_traces stops after its first MAX_TRACES)."""
    table = pq.ParquetFile(table_path)
    wanted = ["trace_id", "query", "answer", "correct", "error"]
    columns = [name for name in wanted if name in table.schema_arrow.names]

    def rows(missed: bool) -> Iterator[dict[str, Any]]:
        for batch in table.iter_batches(batch_size=1024, columns=columns):
            for row in batch.to_pylist():
                if (row.get("error") is not None or row.get("correct") is False) == missed:
                    yield row

    yield from rows(missed=True)
    yield from rows(missed=False)


def _gold_dataset_class():
    """MLflow's schema-only dataset, with the row count MLflow shows as its profile."""
    from mlflow.data.meta_dataset import MetaDataset

    class GoldDataset(MetaDataset):
        def __init__(self, source, name, digest, schema, rows: int) -> None:
            self._rows = rows
            super().__init__(source, name=name, digest=digest, schema=schema)

        @property
        def profile(self) -> dict[str, int]:
            return {"num_rows": self._rows}

        def to_dict(self) -> dict[str, str]:
            return super().to_dict() | {"profile": json.dumps(self.profile)}

    return GoldDataset


def _first_row(path: Path) -> GoldRow:
    """The gold file's first row (already validated by scan_goldset)."""
    return GoldRow.model_validate_json(next(line for line in gold_lines(path) if line.strip()))
