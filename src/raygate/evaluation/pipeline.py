"""The Ray Data eval pipeline: gold JSONL → actor pool (pyfunc loaded once each) → scored rows."""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from raygate.capacity import EVAL_START_TIMEOUT_S
from raygate.cluster import quiet_ray_data
from raygate.evaluation.deadlines import ROW_TIMEOUT_S, Deadlines, ModelStuck
from raygate.evaluation.engines import LlmEngineOptions, build_engine_processor
from raygate.evaluation.inputs import model_input
from raygate.evaluation.predictions import PREDICTION_FIELDS, normalize_predictions
from raygate.evaluation.rows import score_row
from raygate.goldset import GoldRow
from raygate.goldset.loader import gold_line
from raygate.packaging.conversation import user_turn
from raygate.packaging.loading import LoadedAgent, load_pyfunc
from raygate.packaging.outputs import raised_error
from raygate.packaging.row_isolation import ask_each, ask_each_alone
from raygate.schemas import INPUTS_FIELD
from raygate.telemetry.paths import adopt_telemetry_dir, telemetry_dir
from raygate.telemetry.records import RecordWriter, build_record, record_key, records_enabled
from raygate.telemetry.tracing import configure_tracing, export_settings, flush
from raygate.tracking import mute_model_tracing

ACTOR_RESTARTS = 2  # times an eval actor whose process died is restarted, its batch retried


@dataclass(frozen=True, kw_only=True)
class PipelineOptions:
    """How the work is spread: actors, rows per predict() call, resources per actor."""

    workers: int = 2
    batch_size: int = 16
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    row_timeout_s: float = ROW_TIMEOUT_S
    # Seconds the actors may take to get their resources and load the model.
    start_timeout_s: float = EVAL_START_TIMEOUT_S
    # Model input column → gold field it is filled from (see raygate.evaluation.inputs).
    columns: tuple[tuple[str, str], ...] = (("query", "query"),)
    run_id: str | None = None  # the MLflow run the rows' records name
    # The options a person sets the actors' count and size with, as errors name them.
    set_by: tuple[str, str] = ("--workers", "--num-cpus or --num-gpus")
    # Actors to start with where the cluster has no room for all of them now (None: all);
    # the pool grows to `workers` as resources free.
    starting_workers: int | None = None


def _actor_pool(options: PipelineOptions):
    """`workers` actors; where fewer fit now, those that do, growing to `workers` as other
    work frees resources (never shrinking below them: each loaded the model once)."""
    import ray.data

    starting = options.starting_workers or options.workers
    if starting >= options.workers:
        return ray.data.ActorPoolStrategy(size=options.workers)
    return ray.data.ActorPoolStrategy(min_size=starting, max_size=options.workers)


class PredictAndScore:
    """A Ray Data actor: loads the pyfunc once, predicts whole batches, scores each row,
    and writes each row's request record (its spans go to the trace exporter)."""

    def __init__(
        self,
        model_uri: str,
        model_config: dict | None,
        tracking_uri: str,
        columns: tuple[tuple[str, str], ...],
        run_id: str | None = None,
        telemetry_folder: str | None = None,
        trace_settings: dict[str, str] | None = None,
        row_timeout_s: float = ROW_TIMEOUT_S,
    ) -> None:
        import mlflow

        # Rows' records and traces go where the eval's driver reads them back, not under
        # whatever RAYGATE_HOME the Ray worker was started with, and its spans to the
        # exporters the driver was given.
        adopt_telemetry_dir(telemetry_folder)
        os.environ.update(trace_settings or {})
        configure_tracing("raygate-eval")
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        self._model = LoadedAgent(load_pyfunc(model_uri, model_config), version=None)
        mute_model_tracing()
        self._columns = dict(columns)
        self._run_id = run_id
        self._records = RecordWriter(prefix=f"eval-{run_id}") if records_enabled() else None
        self._key = record_key()
        self._deadlines = Deadlines(row_timeout_s)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        golds = [gold_line(text) for text in batch["text"]]
        started = time.perf_counter()
        row_ms: list[float | None] | None = None
        try:
            predictions, row_ms = self._answer(golds)
        except ModelStuck as exc:  # no row asked, no time measured
            predictions, row_ms = [_raised_failure(exc)] * len(golds), [None] * len(golds)
        except Exception as exc:
            # The model failed this batch: each row asked alone, so one bad row fails only itself.
            failure = _raised_failure(exc)
            predictions = ask_each_alone(golds, self._predict_one, _raised_failure, failure)
        # Measured here for any pyfunc: the batch's wall time, and each row's own time where
        # rows were asked one by one, else its share of the batch.
        batch_ms = (time.perf_counter() - started) * 1000
        row_ms = row_ms or [batch_ms / len(golds)] * len(golds)
        predictions = [self._model.priced(p, None if ms is None else ms / 1000)
                       for p, ms in zip(predictions, row_ms, strict=True)]  # fmt: skip
        if self._records is not None:
            for prediction, latency_ms in zip(predictions, row_ms, strict=True):
                self._records.write(self._record(prediction, latency_ms))
        flush()
        return pd.DataFrame(
            [
                score_row(g, p | {"latency_ms_batch": batch_ms, "latency_ms_measured": ms})
                for g, p, ms in zip(golds, predictions, row_ms, strict=True)
            ]
        )

    def _answer(self, golds: list[GoldRow]) -> tuple[list[dict], list[float | None] | None]:
        """The batch's predictions, with each row's own time (ms) where the rows are asked one
        by one (a chat or agent flavor answers each query as a one-turn conversation, the
        row's metadata as its custom_inputs); None where one predict() call answered them all
        (a query model)."""
        if self._model.interface == "query":
            rows = model_input(golds, self._columns, self._model.input_shape)
            answers = self._deadlines.call(partial(self._model.model.predict, rows), len(golds))
            return normalize_predictions(answers, len(golds)), None
        row_ms: list[float | None] = []

        def converse(gold: GoldRow) -> dict:
            ask = partial(
                self._model.converse, user_turn(gold.query), {INPUTS_FIELD: gold.metadata}
            )
            started: float | None = time.perf_counter()
            try:
                return self._deadlines.call(ask, 1)
            except ModelStuck:
                started = None  # not asked
                raise
            finally:
                row_ms.append(None if started is None else (time.perf_counter() - started) * 1000)

        # A conversation the model raises on fails only itself; the others are asked once.
        answers = ask_each(golds, converse, _raised_failure)
        row_ms += [None] * (len(golds) - len(row_ms))  # rows not asked: no latency measured
        return normalize_predictions(answers, len(golds)), row_ms

    def _predict_one(self, gold: GoldRow) -> dict:
        return self._answer([gold])[0][0]

    def _record(self, prediction: dict, latency_ms: float):
        return build_record(
            prediction, source="eval", variant="eval", key=self._key, caller={},
            status=500 if prediction.get("error") else 200, latency_ms=latency_ms,
            run_id=self._run_id,
        )  # fmt: skip


def _raised_failure(exc: Exception) -> dict:
    """The prediction of a row (or batch) the model raised on."""
    return dict.fromkeys(PREDICTION_FIELDS) | {"error": raised_error(exc)}


def score_generated(batch: pd.DataFrame) -> pd.DataFrame:
    """Score rows an LLM engine answered (`text` is the gold line, `answer` the reply)."""
    rows = []
    for record in batch.to_dict(orient="records"):
        prediction = dict.fromkeys(PREDICTION_FIELDS) | {
            "answer": record["answer"],
            "error": record.get("error") or None,
            "tokens_in": _count(record.get("tokens_in")),
            "tokens_out": _count(record.get("tokens_out")),
        }
        rows.append(score_row(gold_line(record["text"]), prediction))
    return pd.DataFrame(rows)


def _count(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def scored_batches(
    gold_path: Path,
    model_uri: str,
    model_config: dict | None,
    tracking_uri: str,
    options: PipelineOptions,
    engine: LlmEngineOptions | None = None,
) -> Iterator[pd.DataFrame]:
    """Scored rows in gold-file order, batch by batch, streamed to the caller.

    With `engine`, a `ray.data.llm` processor answers instead of a pyfunc actor pool.
    """
    import ray.data

    quiet_ray_data()
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    # Ray would wait forever for actors the cluster has no room for (GetTimeoutError after it)
    context.wait_for_min_actors_s = math.ceil(options.start_timeout_s)
    # Reading a JSONL file is light I/O: it reserves no CPU, so that actors holding every CPU
    # of a small machine cannot starve the read tasks that feed them.
    lines = ray.data.read_text(str(gold_path), drop_empty_lines=True, num_cpus=0)
    if engine is not None:
        processed = build_engine_processor(engine)(lines)
        yield from processed.map_batches(score_generated, batch_format="pandas").iter_batches(
            batch_format="pandas", batch_size=None
        )
        return
    with warnings.catch_warnings():  # Ray 2.60 deprecates **ray_remote_args; no named one yet
        warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated")
        dataset = lines.map_batches(
            PredictAndScore,
            fn_constructor_kwargs={
                "model_uri": model_uri,
                "model_config": model_config,
                "tracking_uri": tracking_uri,
                "columns": options.columns,
                "run_id": options.run_id,
                "telemetry_folder": str(telemetry_dir()),
                "trace_settings": export_settings(),
                "row_timeout_s": options.row_timeout_s,
            },
            batch_size=options.batch_size,
            batch_format="pandas",
            compute=_actor_pool(options),
            num_cpus=options.num_cpus,
            num_gpus=options.num_gpus or None,
            # Ray Data restarts a dead actor and retries its batch forever: a model that kills
            # its process on some row (a segfault, the OOM killer) would hang the eval. A lost
            # node is still survived; a batch that kills its actor every time fails the eval.
            max_restarts=ACTOR_RESTARTS,
            max_task_retries=ACTOR_RESTARTS,
        )
    yield from dataset.iter_batches(batch_format="pandas", batch_size=None)
