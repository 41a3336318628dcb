import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from raygate.errors import GoldSetError, UnknownAliasError, UnknownModelError
from raygate.evaluation.pipeline import PipelineOptions
from raygate.evaluation.runner import evaluate
from tests.integration.conftest import log_code_model

ROOT = Path(__file__).resolve().parents[2]

ALWAYS_ABSTAIN = """
import mlflow
from mlflow.models import set_model

class AlwaysAbstain(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return ["I don't know." for _ in model_input["query"]]

set_model(AlwaysAbstain())
"""

BROKEN = """
import mlflow
from mlflow.models import set_model

class Broken(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        raise RuntimeError("backend unavailable")

set_model(Broken())
"""

FAILS_ON_TENTS = """
import mlflow
from mlflow.models import set_model

class FailsOnTents(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        if any("Tent" in query for query in model_input["query"]):
            raise ValueError("cannot parse the product code")
        return ["I don't know." for _ in model_input["query"]]

set_model(FailsOnTents())
"""

HANGS_ON_TENTS = """
import time
import mlflow
from mlflow.models import set_model

class HangsOnTents(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        if any("Tent" in query for query in model_input["query"]):
            time.sleep(3600)  # an API called without a timeout
        return ["I don't know." for _ in model_input["query"]]

set_model(HangsOnTents())
"""

CHATTY = """
import mlflow
from mlflow.models import set_model

class Chatty(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        print("debug: answering", len(model_input), "rows")  # on its Ray actor's stdout
        return ["I don't know." for _ in model_input["query"]]

set_model(Chatty())
"""

# Per-row columns that differ from run to run by nature: time (cost too: the agents are
# priced by compute time) and trace ids.
TIMING = ["latency_ms", "latency_ms_reported", "latency_ms_batch", "cost_usd", "trace_id"]


@pytest.fixture
def champion(registry, built_v1, model_name):
    version = registry.register(model_name, built_v1.model_uri, built_v1.tags)
    registry.set_alias(model_name, "champion", version.version)
    return f"models:/{model_name}@champion"


def test_eval_actors_the_cluster_has_no_room_for_are_an_error_not_a_wait(
    local_ray, registry, champion, tiny_gold, capfd
):
    """The session's Ray has 4 CPUs and no GPU: an actor asking for a GPU can never start
    (said before any run exists); with 2 CPUs free, two of 3 CPUs cannot start (said after
    the start timeout, with what is free, and no Ray Data stack trace; Ray alone waits
    forever), and two of 2 CPUs start with the one that fits."""
    import ray
    from ray.util.placement_group import placement_group, remove_placement_group

    from raygate.errors import ClusterError
    from raygate.gates.evaluator import MlflowEvaluator
    from raygate.gates.policy import load_policy
    from raygate.release import EvalResources

    runs_before = len(mlflow.search_runs(search_all_experiments=True))
    with pytest.raises(ClusterError, match=r"each eval actor asks for 1 CPU and 1 GPU, but no "
                       r"node .* has that much .*lower --num-cpus or --num-gpus"):  # fmt: skip
        evaluate(champion, tiny_gold, registry, PipelineOptions(num_gpus=1))
    releasing = MlflowEvaluator(registry, load_policy(ROOT / "policies" / "gates.yaml"),
                                resources=EvalResources(num_gpus=1))  # fmt: skip
    with pytest.raises(ClusterError, match=r"lower eval.num_cpus or eval.num_gpus"):
        releasing.evaluate(champion, str(tiny_gold))  # a release names its file's fields
    assert len(mlflow.search_runs(search_all_experiments=True)) == runs_before
    free = ray.available_resources()["CPU"]
    assert free > 2, "the test needs more than 2 free CPUs"
    other_work = placement_group([{"CPU": free - 2}])  # holds all but 2 CPUs
    ray.get(other_work.ready())
    try:
        notes = []
        options = PipelineOptions(workers=2, num_cpus=3, start_timeout_s=2)
        with pytest.raises(ClusterError, match=r"2 eval actor\(s\) of 3 CPU each \(loading the "
                           r"model is part of starting\) did not all start within 2 s: the "
                           r"cluster has 2 CPU free of 4 CPU"):  # fmt: skip
            evaluate(champion, tiny_gold, registry, options, on_wait=notes.append)
        assert notes == ["2 eval actor(s) of 3 CPU each wait for resources: the cluster has "
                         "2 CPU free now, other work holds the rest"]  # fmt: skip
        assert "Traceback" not in capfd.readouterr().err
        notes = []
        options = PipelineOptions(workers=2, num_cpus=2, start_timeout_s=60)
        result = evaluate(champion, tiny_gold, registry, options, on_wait=notes.append)
        assert notes == [
            "1 of 2 eval actor(s) of 2 CPU each start now (the cluster has 2 CPU "
            "free; other work holds the rest); the others join as resources free"
        ]
        assert result.metrics.values["rows"] == 12 and result.metrics.values["error_rate"] == 0
    finally:
        remove_placement_group(other_work)


def test_eval_json_is_one_document_even_when_the_model_prints(local_ray, tiny_gold, tmp_path):
    """A user's pyfunc that prints: Ray forwards its actors' output to the driver's stdout,
    which `--json` reserves for its one document."""
    import os
    import subprocess
    import sys

    import ray

    uri = log_code_model(tmp_path, CHATTY)
    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    command = [sys.executable, "-m", "raygate.cli.main", "eval", uri, "--gold", str(tiny_gold),
               "--workers", "1", "--json"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["metrics"]["rows"] == 12, done.stdout[:500]


def table(run_id: str) -> pd.DataFrame:
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="eval_table.parquet")
    return pd.read_parquet(path)


def test_eval_logs_params_metrics_table_report_and_tags_the_version(
    local_ray, registry, champion, tiny_gold, model_name
):
    result = evaluate(champion, tiny_gold, registry, PipelineOptions(workers=2, batch_size=4))
    run = mlflow.get_run(result.run_id)
    assert result.model_id == f"{model_name}@1"
    assert run.data.params["goldset_hash"] == result.goldset.content_hash
    assert run.data.params["agent.retriever.k"] == "4" and run.data.params["workers"] == "2"
    assert run.data.metrics["rows"] == 12 and 0 <= run.data.metrics["quality"] <= 1
    assert {"quality.factual", "quality_ci_low", "latency_ms_p95", "pii_leak_count"} <= set(
        run.data.metrics
    )
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id)}
    assert {"eval_table.parquet", "eval_table.json", "report.html"} <= artifacts
    report = mlflow.artifacts.load_text(f"runs:/{result.run_id}/report.html")
    assert "data:image/png;base64," in report and "<script" not in report and "http" not in report
    rows = table(result.run_id)
    assert len(rows) == 12 and rows["error"].isna().all()
    pii_queries = rows.loc[rows["category"] == "pii", "query"]
    assert pii_queries.str.contains(r"\[(?:EMAIL|PHONE|CARD|SSN|IBAN|IP|API_KEY)\]").all()
    assert registry.get_version(model_name, 1).tags["raygate.eval_run_id"] == result.run_id


def test_an_eval_stopped_by_ctrl_c_ends_its_run_killed_with_no_figures(
    local_ray, registry, built_v1, tiny_gold
):
    def ctrl_c(rows: int) -> None:  # pressed while the first batch's scores arrive
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt, match="is marked KILLED in MLflow") as stopped:
        evaluate(built_v1.model_uri, tiny_gold, registry, PipelineOptions(workers=1),
                 on_rows=ctrl_c)  # fmt: skip
    run = mlflow.get_run(str(stopped.value).split()[2])
    assert run.info.status == "KILLED" and "quality" not in run.data.metrics


def test_an_eval_run_reads_in_mlflow_as_mlflow_3_users_expect_and_leaves_records_and_traces(
    local_ray, registry, built_v1, tiny_gold, tmp_path, monkeypatch
):
    from raygate.telemetry.records import RequestRecord

    # The driver's telemetry folder is not the one the Ray workers were started with (`ray
    # start` in one folder, `raygate eval` in a project's): the rows' records and traces
    # still land where the driver reads them.
    telemetry = tmp_path / "project" / ".raygate" / "telemetry"
    monkeypatch.setenv("RAYGATE_TELEMETRY_DIR", str(telemetry))
    result = evaluate(built_v1.model_uri, tiny_gold, registry, PipelineOptions(workers=1))
    run = mlflow.get_run(result.run_id)
    (dataset,) = run.inputs.dataset_inputs
    assert (
        dataset.dataset.name == "tiny"
        and dataset.dataset.digest == result.goldset.content_hash[:36]
    )
    assert json.loads(dataset.dataset.profile)["num_rows"] == 12
    logged_model_id = mlflow.models.get_model_info(built_v1.model_uri).model_id
    assert [m.model_id for m in run.inputs.model_inputs] == [logged_model_id]
    linked = mlflow.get_logged_model(logged_model_id).metrics
    assert {m.key for m in linked if m.run_id == result.run_id} >= {"quality", "rows"}
    assert all(
        m.dataset_digest == dataset.dataset.digest for m in linked if m.run_id == result.run_id
    )

    rows = table(result.run_id)
    folder = telemetry / "records"
    lines = [json.loads(line) for path in folder.glob(f"eval-{result.run_id}-*.jsonl")
             for line in path.read_text().splitlines()]  # fmt: skip
    records = [RequestRecord.model_validate(line) for line in lines]
    assert len(records) == 12 and {r.source for r in records} == {"eval"}
    assert {r.trace_id for r in records} == set(rows["trace_id"])
    spans = [json.loads(line) for path in (telemetry / "traces").glob("*.jsonl")
             for line in path.read_text().splitlines()]  # fmt: skip
    roots = {s["trace_id"] for s in spans if s["name"].startswith("invoke_agent")}
    assert set(rows["trace_id"]) <= roots

    assert run.data.tags["raygate.traces_attached"] == "12/12"
    traces = mlflow.search_traces(run_id=result.run_id, return_type="list")
    assert len(traces) == 12
    fullest = max(traces, key=lambda t: len(t.data.spans))
    names = {span.name.split(" ")[0] for span in fullest.data.spans}
    assert {"invoke_agent", "preproc", "retrieval", "chat", "postproc"} <= names


def test_every_trace_said_attached_is_in_mlflow_whole(raygate_home, tmp_path, monkeypatch):
    """MLflow queues 2,048 finished spans and drops the oldest beyond: 500 rows' traces
    copied in one go lost a quarter (345 in MLflow), and the run's tag said 500/500."""
    from raygate.evaluation.mlflow_traces import MAX_TRACES, attach_traces
    from raygate.tracking import configure_mlflow

    monkeypatch.setenv("RAYGATE_TELEMETRY_DIR", str(tmp_path))
    (tmp_path / "traces").mkdir()
    rows, lines, start = [], [], 1_796_000_000_000_000_000
    for row in range(MAX_TRACES):  # 12 spans each: more than MLflow's queue holds
        trace_id, root = f"{row:032x}", f"{row:08x}00000000"
        spans = [(root, None, "invoke_agent agent")]
        spans += [(f"{row:08x}{i:08x}", root, f"execute_tool step-{i}") for i in range(1, 12)]
        lines += [json.dumps({"trace_id": trace_id, "span_id": span, "parent_span_id": parent,
                              "name": name, "start_ns": start, "end_ns": start + 1_000,
                              "status": "OK", "attributes": {}})
                  for span, parent, name in spans]  # fmt: skip
        rows.append({"trace_id": trace_id, "query": f"q{row}", "answer": f"a{row}"})
    (tmp_path / "traces" / "spans-20261207.jsonl").write_text("\n".join(lines) + "\n")
    configure_mlflow()
    experiment = mlflow.set_experiment("attach-all")
    with mlflow.start_run() as run:
        assert attach_traces(rows, experiment.experiment_id, run.info.run_id) == (
            MAX_TRACES,
            MAX_TRACES,
        )
    traces = mlflow.search_traces(run_id=run.info.run_id, return_type="list")
    assert len(traces) == MAX_TRACES and {len(t.data.spans) for t in traces} == {12}


def test_same_outputs_and_metrics_whatever_the_workers_and_batch_size(
    local_ray, registry, built_v1, tiny_gold
):
    one = evaluate(
        built_v1.model_uri, tiny_gold, registry, PipelineOptions(workers=1, batch_size=3)
    )
    two = evaluate(
        built_v1.model_uri, tiny_gold, registry, PipelineOptions(workers=2, batch_size=5)
    )
    pd.testing.assert_frame_equal(
        table(one.run_id).drop(columns=TIMING), table(two.run_id).drop(columns=TIMING)
    )
    timing_free = lambda m: {  # noqa: E731
        k: v for k, v in m.values.items() if not k.startswith(("latency", "cost"))
    }
    assert timing_free(one.metrics) == timing_free(two.metrics)


def test_any_pyfunc_is_evaluated_and_unreported_figures_are_missing(
    local_ray, registry, tiny_gold, tmp_path
):
    import gzip

    from raygate.goldset import scan_goldset

    uri = log_code_model(tmp_path, ALWAYS_ABSTAIN)
    packed = tmp_path / "tiny.jsonl.gz"  # a gold set kept compressed is read as its text
    packed.write_bytes(gzip.compress(tiny_gold.read_bytes()))
    result = evaluate(uri, packed, registry, PipelineOptions(workers=1, batch_size=4))
    plain = scan_goldset(tiny_gold)
    assert (result.goldset.content_hash, result.goldset.rows) == (plain.content_hash, plain.rows)
    assert len(table(result.run_id)) == plain.rows
    assert result.metrics.values["abstention_accuracy"] == 1.0
    assert (
        result.metrics.values["quality.unanswerable"] == 1.0
        and result.metrics.values["exact_match.factual"] == 0
    )
    assert {"tokens_in_per_request", "cost_usd_per_request"} <= set(result.metrics.missing)
    # the eval timed the model itself; the model reported no latency of its own
    assert result.metrics.values["latency_ms_p95"] > 0
    assert "latency_ms_reported_p95" not in result.metrics.values
    from raygate.gates.decide import decide
    from raygate.gates.policy import GatePolicy

    gates = {
        g.name: g for g in decide(GatePolicy(relative=None), result.metrics.values, None).gates
    }
    assert gates["latency.p95"].verdict == "pass" and gates["latency.p95"].measured > 0
    assert gates["cost.per_request"].verdict == "fail"  # unpriced: no evidence, no pass
    assert "was not measured" in gates["cost.per_request"].detail


WRAPS_A_CLIENT = """
import mlflow
from mlflow.models import set_model

class WrapsAClient(mlflow.pyfunc.PythonModel):  # hands back its OpenAI client's replies
    def predict(self, context, model_input, params=None):
        return [{"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": "I don't know."}}],
                 "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}}
                for _ in model_input["query"]]

set_model(WrapsAClient())
"""


def test_a_pyfunc_logged_with_prices_is_priced_by_its_token_counts(
    local_ray, registry, tiny_gold, tmp_path
):
    from raygate.errors import ModelLoadError
    from raygate.packaging.loading import load_agent

    pricing = {"input_cost_per_token": 1e-6, "output_cost_per_token": 4e-6}
    uri = log_code_model(tmp_path, WRAPS_A_CLIENT, metadata={"raygate": {"pricing": pricing}})
    values = evaluate(uri, tiny_gold, registry, PipelineOptions(workers=1)).metrics.values
    assert values["tokens_in_per_request"] == 1000 and values["tokens_out_per_request"] == 100
    assert values["cost_usd_per_request"] == pytest.approx(1000 * 1e-6 + 100 * 4e-6)
    (record,) = load_agent(uri, registry).predict_records([{"query": "hi"}])  # predict, serving
    assert record["cost_usd"] == pytest.approx(0.0014) and record["answer"] == "I don't know."

    (tmp_path / "unpriced").mkdir()
    (tmp_path / "bad").mkdir()
    unpriced = log_code_model(tmp_path / "unpriced", WRAPS_A_CLIENT)
    (record,) = load_agent(unpriced, registry).predict_records([{"query": "hi"}])
    assert record.get("cost_usd") is None and record["tokens_in"] == 1000  # missing, never 0
    bad = {"raygate": {"pricing": {"model": "no-such-model"}}}
    mispriced = log_code_model(tmp_path / "bad", WRAPS_A_CLIENT, metadata=bad)
    with pytest.raises(ModelLoadError, match=r"metadata raygate.pricing.*'no-such-model' is not"):
        load_agent(mispriced, registry)
    with pytest.raises(ModelLoadError, match=r"metadata raygate.pricing"):  # before any run
        evaluate(mispriced, tiny_gold, registry, PipelineOptions(workers=1))


def test_a_failing_model_is_recorded_row_by_row(local_ray, registry, tiny_gold, tmp_path):
    uri = log_code_model(tmp_path, BROKEN)
    result = evaluate(uri, tiny_gold, registry, PipelineOptions(workers=1, batch_size=6))
    assert result.metrics.values["error_rate"] == 1.0 and result.metrics.values["quality"] == 0.0
    assert table(result.run_id)["error"].str.contains("backend unavailable").all()


def test_a_row_a_model_cannot_answer_fails_only_itself_not_its_batch(
    local_ray, registry, tiny_gold, tmp_path
):
    uri = log_code_model(tmp_path, FAILS_ON_TENTS)
    result = evaluate(uri, tiny_gold, registry, PipelineOptions(workers=1, batch_size=6))
    rows = table(result.run_id)
    failed = rows[rows["error"].notna()]
    assert sorted(failed["query"].str.contains("Tent")) == [True, True] and len(failed) == 2
    assert failed["error"].str.contains("cannot parse the product code").all()
    assert (rows[rows["error"].isna()]["answer"] == "I don't know.").all()
    assert result.metrics.values["error_rate"] == pytest.approx(2 / 12)


def test_a_row_a_model_never_answers_times_out_alone_instead_of_stalling_the_eval(
    local_ray, registry, tiny_gold, tmp_path
):
    """A pyfunc stuck in predict on some rows stalled the eval until someone stopped it, with
    no figures; each such row now fails at the row timeout and the others are answered."""
    from tests.integration.test_cli import run

    uri = log_code_model(tmp_path, HANGS_ON_TENTS)
    result = run("eval", uri, "--gold", tiny_gold, "--workers", "1", "--batch-size", "6",
                 "--row-timeout", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    run_id = result.stdout.split()[2]  # "eval run RUN_ID · …"
    rows = table(run_id)
    failed = rows[rows["error"].notna()]
    assert failed["query"].str.contains("Tent").all() and len(failed) == 2
    assert failed["error"].str.contains("no answer within 1 s, the eval's row timeout").all()
    assert (rows[rows["error"].isna()]["answer"] == "I don't know.").all()
    assert "error_rate                 0.1667" in result.stdout  # 2 of 12
    assert "failed: 2 row(s), first pii-0002: ModelTimeout: the model gave no answer" in (
        result.stdout
    )
    assert "give it longer with --row-timeout" in result.stdout
    assert mlflow.get_run(run_id).data.params["row_timeout_s"] == "1.0"


def test_bad_input_fails_before_any_run(
    local_ray, registry, built_v1, champion, tiny_gold, tmp_path
):
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "a", "query": "q", "expected": "x"}\n{"id": "b", "expected": "y"}\n')
    before = len(mlflow.search_runs(search_all_experiments=True))
    with pytest.raises(GoldSetError, match=r"gold.jsonl:2: field 'query'"):
        evaluate(built_v1.model_uri, gold, registry, PipelineOptions())
    with pytest.raises(UnknownAliasError, match="aliases: champion→v1"):
        evaluate(champion.replace("@champion", "@canary"), tiny_gold, registry, PipelineOptions())
    with pytest.raises(UnknownModelError):
        evaluate("models:/no-such-model@champion", tiny_gold, registry, PipelineOptions())
    assert len(mlflow.search_runs(search_all_experiments=True)) == before


def test_eval_table_has_no_raw_pii(local_ray, registry, built_v1, tiny_gold):
    result = evaluate(
        built_v1.model_uri, tiny_gold, registry, PipelineOptions(workers=1, batch_size=12)
    )
    text = json.dumps(table(result.run_id).to_dict(orient="records"), default=str)
    raw_queries = [json.loads(line)["query"] for line in tiny_gold.read_text().splitlines()]
    from raygate.telemetry.pii import find_pii

    for query in raw_queries:
        for match in find_pii(query):
            assert match.text not in text


ECHO_QUESTION = """
import mlflow.pyfunc
from mlflow.models import set_model

class EchoQuestion(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [{"answer": q} for q in model_input["question"]]

set_model(EchoQuestion())
"""


def test_gold_columns_go_to_the_inputs_the_signature_accepts(local_ray, registry, tiny_gold,
                                                             tmp_path):  # fmt: skip
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    from raygate.errors import EvaluationError

    signature = ModelSignature(
        Schema([ColSpec("string", "question"), ColSpec("string", "topic")]),
        Schema([ColSpec("string", "answer")]),
    )
    uri = log_code_model(tmp_path, ECHO_QUESTION, signature=signature)
    with pytest.raises(EvaluationError, match="requires input\\(s\\) question, topic"):
        evaluate(uri, tiny_gold, registry, PipelineOptions(workers=1, batch_size=4))
    result = evaluate(uri, tiny_gold, registry, PipelineOptions(workers=1, batch_size=4),
                      input_map={"question": "query", "topic": "category"})  # fmt: skip
    rows = table(result.run_id)
    assert len(rows) > 0 and (rows["answer"] == rows["query"]).all()  # echoed as `question`
    assert mlflow.get_run(result.run_id).data.params["input_map"] == (
        "question=query,topic=category"
    )


def test_a_lone_text_input_by_another_name_gets_the_query(local_ray, registry, tiny_gold,
                                                          tmp_path):  # fmt: skip
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    signature = ModelSignature(Schema([ColSpec("string", "question")]),
                               Schema([ColSpec("string", "answer")]))  # fmt: skip
    uri = log_code_model(tmp_path, ECHO_QUESTION, signature=signature)
    result = evaluate(uri, tiny_gold, registry, PipelineOptions(workers=1, batch_size=4))
    rows = table(result.run_id)
    assert len(rows) > 0 and (rows["answer"] == rows["query"]).all()


TYPED_MODELS = """
import mlflow, pydantic
from mlflow.models import set_model


class Question(pydantic.BaseModel):
    question: str
    tone: str | None = None


class Reply(pydantic.BaseModel):
    text: str
    confidence: float


class Typed(mlflow.pyfunc.PythonModel):  # MLflow 3's type hints: the signature comes from them
    def predict(self, model_input: list[Question], params=None) -> list[Reply]:
        return [Reply(text=q.question, confidence=0.5) for q in model_input]


set_model(Typed())
"""

TYPED_CHAT_MODEL = """
import mlflow, pydantic
from mlflow.models import set_model


class Turn(pydantic.BaseModel):
    role: str
    content: str


class Chat(pydantic.BaseModel):
    messages: list[Turn]


class Typed(mlflow.pyfunc.PythonModel):
    def predict(self, model_input: list[Chat], params=None) -> list[str]:
        return [f"{len(c.messages)} turns: {c.messages[-1].content}" for c in model_input]


set_model(Typed())
"""

TEXTS_MODEL = """
import mlflow
from mlflow.models import set_model


class Texts(mlflow.pyfunc.PythonModel):
    def predict(self, model_input: list[str], params=None) -> list[str]:
        return [text.upper() for text in model_input]


set_model(Texts())
"""


def test_a_type_hinted_model_gets_its_typed_list_everywhere(local_ray, registry, tiny_gold,
                                                            tmp_path):  # fmt: skip
    from raygate.packaging.loading import load_agent

    uri = log_code_model(tmp_path, TYPED_MODELS)  # list[Question] in, list[Reply] out
    result = evaluate(uri, tiny_gold, registry, PipelineOptions(workers=1, batch_size=4))
    rows = table(result.run_id)
    assert len(rows) > 0 and (rows["answer"] == rows["query"]).all() and not rows["error"].any()
    (tmp_path / "texts").mkdir()
    texts = load_agent(log_code_model(tmp_path / "texts", TEXTS_MODEL), registry)  # list[str]
    (record,) = texts.predict_records([{"query": "sixty days?"}])
    assert record["answer"] == "SIXTY DAYS?"
    (tmp_path / "chat").mkdir()  # list[Chat]: a typed list of conversations
    chat = load_agent(log_code_model(tmp_path / "chat", TYPED_CHAT_MODEL), registry)
    turns = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert chat.converse(turns)["answer"] == "2 turns: hi"


ANSWERS_IN_SENTENCES = """
import mlflow.pyfunc
from mlflow.models import set_model

ANSWERS = {answers!r}

class AnswersInSentences(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [f"Sure! Per our docs, it is {{ANSWERS[q]}}." for q in model_input["query"]]

set_model(AnswersInSentences())
"""


def test_an_answer_in_a_sentence_is_correct_unless_its_row_asks_for_an_exact_match(
    local_ray, registry, tiny_gold, tmp_path
):
    rows = [json.loads(line) for line in tiny_gold.read_text().splitlines()]
    factual = [row for row in rows if row["category"] == "factual"]
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        json.dumps(factual[0]) + "\n" + json.dumps(factual[1] | {"match": "exact"}) + "\n"
    )
    answers = {row["query"]: row["expected"][0] for row in factual}
    uri = log_code_model(tmp_path, ANSWERS_IN_SENTENCES.format(answers=answers))
    result = evaluate(uri, gold, registry, PipelineOptions(workers=1))
    scored = table(result.run_id).set_index("id")
    assert scored.loc[factual[0]["id"], "correct"] == 1.0  # the answer is in the sentence
    assert scored.loc[factual[1]["id"], "correct"] == 0.0  # the row wants the answer alone
    assert (scored["exact_match"] == 0.0).all()
    assert result.metrics.values["quality"] == 0.5


RESPONSES_AGENT = """
import time

from mlflow.models import set_model
from mlflow.pyfunc import ResponsesAgent
from mlflow.types.responses import ResponsesAgentResponse

ANSWERS = {answers!r}
SLOW = {slow!r}  # answered after 0.6 s, the others at once
USAGE = {{"input_tokens": 12, "output_tokens": 5, "total_tokens": 17,
         "input_tokens_details": {{"cached_tokens": 0}},
         "output_tokens_details": {{"reasoning_tokens": 0}}}}

class Answers(ResponsesAgent):
    def predict(self, request):
        if request.input[-1].content == SLOW:
            time.sleep(0.6)
        text = f"That would be {{ANSWERS.get(request.input[-1].content, 'unknown')}}."
        return ResponsesAgentResponse(output=[self.create_text_output_item(text=text, id="o1")],
                                      usage=USAGE)

set_model(Answers())
"""

CHAT_AGENT_ABSTAINS = """
from mlflow.models import set_model
from mlflow.pyfunc import ChatAgent
from mlflow.types.agent import ChatAgentMessage, ChatAgentResponse

class Abstains(ChatAgent):
    def predict(self, messages, context=None, custom_inputs=None):
        assert [m.role for m in messages] == ["user"], messages
        with open(ASKED_LOG, "a") as log:
            log.write(f"{messages[0].content}\\t{(custom_inputs or {}).get('row')}\\n")
        if "card" in messages[0].content:
            raise ValueError("cannot parse the card number")
        return ChatAgentResponse(messages=[ChatAgentMessage(role="assistant", id="m1",
                                                            content="I don’t know.")])

set_model(Abstains())
"""


def test_chat_and_agent_flavors_are_evaluated_on_each_query_as_a_user_message(
    local_ray, registry, tiny_gold, tmp_path
):
    from raygate.errors import EvaluationError
    from raygate.packaging.loading import load_agent

    rows = [json.loads(line) for line in tiny_gold.read_text().splitlines()]
    answers = {row["query"]: row["expected"][0] for row in rows if row["category"] == "factual"}
    slow = rows[0]
    uri = log_code_model(tmp_path, RESPONSES_AGENT.format(answers=answers, slow=slow["query"]))
    result = evaluate(uri, tiny_gold, registry, PipelineOptions(workers=1, batch_size=16))
    values = result.metrics.values
    assert values["quality.factual"] == 1.0 and values["error_rate"] == 0.0
    # Conversations are asked one by one, so each row's latency is its own, not a batch share.
    latency = table(result.run_id).set_index("id")["latency_ms"]
    assert latency[slow["id"]] >= 600 and latency.drop(slow["id"]).max() < latency[slow["id"]]
    assert values["tokens_in_per_request"] == 12 and values["tokens_out_per_request"] == 5
    query = next(iter(answers))
    (record,) = load_agent(uri, registry).predict_records([{"query": query}])  # raygate predict
    assert record["answer"] == f"That would be {answers[query]}." and record["tokens_out"] == 5
    with pytest.raises(EvaluationError, match=r"chat or agent flavor.*drop --input-map"):
        evaluate(uri, tiny_gold, registry, PipelineOptions(), input_map={"input": "query"})

    asked = tmp_path / "asked.log"
    uri = log_code_model(tmp_path, CHAT_AGENT_ABSTAINS.replace("ASKED_LOG", repr(str(asked))))
    gold = tmp_path / "with-metadata.jsonl"  # a row's metadata is its custom_inputs
    gold.write_text("".join(json.dumps(r | {"metadata": {"row": r["id"]}}) + "\n" for r in rows))
    result = evaluate(uri, gold, registry, PipelineOptions(workers=1, batch_size=16))
    values = result.metrics.values
    # A conversation the model raises on fails only itself; each is asked once.
    assert values["error_rate"] == pytest.approx(1 / 12) and values["abstention_accuracy"] == 1.0
    # (MLflow asked its input example when logging, without custom_inputs)
    said = [line.split("\t") for line in asked.read_text().splitlines() if line[-4:] != "None"]
    assert sorted(said) == sorted([r["query"], r["id"]] for r in rows)
    (failed,) = table(result.run_id).query("error.notna()").itertuples()
    assert "card" in failed.query and "cannot parse the card number" in failed.error
    assert values["quality.factual"] == 0.0
    assert "tokens_in_per_request" not in values  # it reports no usage: missing, not 0


TAKES_MESSAGES = """
import mlflow
import pandas as pd
from mlflow.models import set_model

ANSWERS = {answers!r}

class TakesMessages(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        asked = [messages[-1]["content"] for messages in model_input["messages"]]
        return pd.DataFrame([{{"answer": ANSWERS.get(q, "no idea"), "confidence": 0.5}}
                             for q in asked])

set_model(TakesMessages())
"""


TAKES_TEXT_INPUT = """
import mlflow
from mlflow.models import set_model

ANSWERS = {answers!r}

class TakesInput(mlflow.pyfunc.PythonModel):  # a LangChain chain's shape: {{"input": "..."}}
    def predict(self, context, model_input, params=None):
        return [ANSWERS.get(q, "no idea") for q in model_input["input"]]

set_model(TakesInput())
"""


@pytest.mark.parametrize(
    "source, example",
    [(TAKES_MESSAGES, {"messages": [[{"role": "user", "content": "hi"}]]}),
     (TAKES_TEXT_INPUT, {"input": ["hi"]})],
    ids=["messages", "text-input"],
)  # fmt: skip
def test_a_plain_pyfunc_named_like_a_chat_flavor_is_asked_and_read_like_any_pyfunc(
    source, example, local_ray, registry, tiny_gold, tmp_path
):
    """Not chat flavors: a PythonModel whose input is `messages` and which answers with a
    frame is asked each query as a user turn and read for its `answer` (every answer was
    empty: an eval scored 0 with no error); one whose text input is named `input` gets the
    query itself (it got a message dict)."""
    from mlflow.models import infer_signature

    rows = [json.loads(line) for line in tiny_gold.read_text().splitlines()]
    answers = {row["query"]: row["expected"][0] for row in rows if row["category"] == "factual"}
    signature = infer_signature(pd.DataFrame(example), ["x"])
    uri = log_code_model(tmp_path, source.format(answers=answers), signature=signature)
    result = evaluate(uri, tiny_gold, registry, PipelineOptions(workers=1, batch_size=16))
    assert result.metrics.values["quality.factual"] == 1.0
    assert result.metrics.values["error_rate"] == 0.0


KILLS_ITS_PROCESS = """
import os

import mlflow
from mlflow.models import set_model

class KillsItsProcess(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        os._exit(3)  # what a segfault in a C extension, or the OOM killer, looks like

set_model(KillsItsProcess())
"""


@pytest.mark.timeout(240)  # Ray Data's default (restart and retry forever) hung here
def test_a_model_that_kills_its_process_fails_the_eval_instead_of_hanging_it(
    local_ray, registry, tiny_gold, tmp_path
):
    from raygate.errors import EvaluationError

    gold = tmp_path / "gold.jsonl"
    gold.write_text(tiny_gold.read_text().splitlines()[0] + "\n")
    uri = log_code_model(tmp_path, KILLS_ITS_PROCESS)
    with pytest.raises(EvaluationError, match="process died while predicting a batch, and again"):
        evaluate(uri, gold, registry, PipelineOptions(workers=1))
    (run,) = mlflow.search_runs(
        search_all_experiments=True, filter_string=f"tags.`raygate.model_uri` = '{uri}'",
        output_format="list",
    )  # fmt: skip
    assert run.info.status == "FAILED"  # no gate can take it as evidence
