"""A user's own pyfunc, with its own input names and plain-text answers, asked the way
raygate's agent is: from the command line, through the served API and the openai client."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema

from raygate.errors import ConfigError, ModelLoadError
from raygate.packaging.loading import load_agent
from tests.integration.conftest import log_code_model, wait_for
from tests.integration.test_cli import assert_one_line_error, run, run_json
from tests.integration.test_serving import TOKEN, Served, deploy

ANSWERS_QUESTION = """
import mlflow.pyfunc
from mlflow.models import set_model

import threading
import time
BACKEND = threading.Lock()  # one connection to a backend, which every call needs

class AnswersQuestion(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        with BACKEND:
            if any("wedge" in q for q in model_input["question"]):
                time.sleep(3600)  # stuck holding the connection
        if any("boom" in q for q in model_input["question"]):
            raise ValueError("cannot answer that")
        if any("hang" in q for q in model_input["question"]):  # an API call without a timeout
            time.sleep(8)
        given = model_input.get("context", [None] * len(model_input))
        answers = [f"answer to: {q}" + (f" ({c})" if isinstance(c, str) else "")
                   for q, c in zip(model_input["question"], given)]
        if any("dated" in q for q in model_input["question"]):  # values JSON has no form for
            import pandas as pd
            return pd.DataFrame({"answer": answers, "confidence": float("inf"),
                                 "answered_at": pd.Timestamp("2026-12-07 10:00")})
        return answers

set_model(AnswersQuestion())
"""

ANSWERS_WITH_CONTEXT = """
import mlflow.pyfunc
from mlflow.models import set_model

class AnswersWithContext(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [f"{q} | {c}" for q, c in zip(model_input["question"], model_input["context"])]

set_model(AnswersWithContext())
"""


def _signature(*inputs: str, optional: tuple[str, ...] = ()) -> ModelSignature:
    specs = [ColSpec("string", name) for name in inputs]
    specs += [ColSpec("string", name, required=False) for name in optional]
    return ModelSignature(Schema(specs), Schema([ColSpec("string")]))


@pytest.fixture(scope="module")
def plain(local_ray, raygate_home, tmp_path_factory) -> Iterator[Served]:
    """One version of a text-in, text-out pyfunc (a question, and an optional context) as
    both champion and candidate (as right after a promotion)."""
    from raygate.registry.mlflow_registry import MlflowRegistry

    registry, name = MlflowRegistry(), "plain-app"
    uri = log_code_model(tmp_path_factory.mktemp("plain"), ANSWERS_QUESTION,
                         signature=_signature("question", optional=("context",)))  # fmt: skip
    version = registry.register(name, uri, {}).version
    for alias in ("champion", "candidate"):
        registry.set_alias(name, alias, version)
    # a replica whose model answers nothing for 12 s while a call runs fails its health check
    checks = {"health_check_period_s": 1, "user_config": {"stuck_after_s": 12}}
    yield from deploy(local_ray, tmp_path_factory, name, model_options=checks, rate_limit=None,
                      request_timeout_s=5)  # fmt: skip


def test_a_model_that_hangs_is_a_504_counted_against_it_and_a_hang_up_is_recorded(
    plain, raygate_home
):
    """A pyfunc stuck in predict (an API called without a timeout) held its requests, and
    every request batched after them, until each client gave up, and none was recorded: a
    hung canary was never judged."""
    from raygate.telemetry.records import RequestRecord

    url, user = f"{plain.url}/v1/predict", "u-hangs"
    answered = requests.post(url, json={"query": "hi", "user_id": user}, headers=plain.headers,
                             timeout=30)  # fmt: skip
    assert answered.status_code == 200, answered.text
    hung = requests.post(url, json={"query": "hang now", "user_id": user}, headers=plain.headers,
                         timeout=30)  # fmt: skip
    assert hung.status_code == 504, hung.text
    error = hung.json()["error"]
    assert error["code"] == "timeout" and "gave no answer in 5 s" in error["message"]
    # it names the model that serves the variant, as every answer and error does
    assert error["model_id"] == hung.headers["x-raygate-model-id"] == "plain-app@1"
    assert hung.headers["x-raygate-trace-id"] == error["trace_id"]
    hung_up = "4bf92f3577b34da6a3ce929d0e0e4737"
    traced = {**plain.headers, "traceparent": f"00-{hung_up}-00f067aa0ba902b7-01"}
    with pytest.raises(requests.ReadTimeout):  # a client that gives up first
        requests.post(url, json={"query": "hang again", "user_id": user}, timeout=1,
                      headers=traced)  # fmt: skip

    def recorded() -> dict[str, RequestRecord]:
        folder = raygate_home / "telemetry" / "records"
        lines = [line for path in folder.glob("requests-*.jsonl")
                 for line in path.read_text().splitlines()]  # fmt: skip
        records = {r.trace_id: r for r in map(RequestRecord.model_validate_json, lines)}
        return records if {error["trace_id"], hung_up} <= set(records) else {}

    records = wait_for(recorded, 30, "the two requests' records")
    timed_out = records[error["trace_id"]]
    assert (timed_out.status, timed_out.finish_reason) == (504, "deadline")  # judged: failed
    assert timed_out.model_id == "plain-app@1"
    assert (records[hung_up].status, records[hung_up].finish_reason) == (499, "cancelled")
    wait_for(lambda: requests.post(url, json={"query": "back?", "user_id": user}, timeout=30,
                                   headers=plain.headers).status_code == 200,
             60, "the model to answer again")  # fmt: skip


def test_a_lone_text_input_gets_the_query_and_no_figure_is_made_up(plain):
    response = requests.post(f"{plain.url}/v1/predict", json={"query": "why?", "user_id": "u1"},
                             headers=plain.headers, timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["answer"] == "answer to: why?"
    assert response.headers["x-raygate-model-id"] == "plain-app@1"
    assert "x-raygate-finish-reason" not in response.headers  # the model says none

    import openai

    client = openai.OpenAI(base_url=f"{plain.url}/v1", api_key=TOKEN, max_retries=0)
    reply = client.chat.completions.create(
        model="plain-app", messages=[{"role": "user", "content": "how?"}]
    )
    assert reply.choices[0].message.content == "answer to: how?"
    assert reply.usage is None  # it counts no tokens: null, never zeros
    assert client.responses.create(model="plain-app", input="when?").usage is None
    listed = [m.model_dump() for m in client.models.list().data]
    versions = [m for m in listed if m["id"] == "plain-app@1"]
    assert len(versions) == 1 and sorted(versions[0]["variants"]) == ["canary", "champion"]
    assert client.models.retrieve("plain-app@1").model_dump() == versions[0]
    assert client.models.retrieve("plain-app").id == "plain-app"
    with pytest.raises(openai.NotFoundError, match="use one of: plain-app, plain-app@1"):
        client.models.retrieve("other-app")


def test_values_beside_the_answer_that_json_lacks_are_sent_as_json_has_them(plain):
    """A datetime or an infinity beside the answer was a bare 500 for the client, and a 200
    in the request's record."""
    response = requests.post(f"{plain.url}/v1/predict", json={"query": "dated?"},
                             headers=plain.headers, timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["answer"] == "answer to: dated?" and answer["confidence"] is None
    assert answer["answered_at"] == "2026-12-07T10:00:00"


def test_a_request_sends_the_models_other_inputs_in_inputs(plain):
    def answer(body):
        response = requests.post(f"{plain.url}/v1/predict", json=body, headers=plain.headers,
                                 timeout=30)  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()["answer"]

    assert answer({"query": "why?", "inputs": {"context": "the manual"}}) == (
        "answer to: why? (the manual)"
    )
    assert answer({"query": "why?", "inputs": {"colour": "red"}}) == "answer to: why?"
    refused = requests.post(f"{plain.url}/v1/predict", json={"query": "x", "inputs": ["c"]},
                            headers=plain.headers, timeout=30)  # fmt: skip
    assert refused.status_code == 422 and "inputs" in refused.json()["error"]["message"]

    import openai

    client = openai.OpenAI(base_url=f"{plain.url}/v1", api_key=TOKEN, max_retries=0)
    extra = {"inputs": {"context": "c2"}}  # how the openai SDK sends a server's own fields
    reply = client.chat.completions.create(
        model="plain-app", messages=[{"role": "user", "content": "how?"}], extra_body=extra
    )
    assert reply.choices[0].message.content == "answer to: how? (c2)"
    said = client.responses.create(model="plain-app", input="when?", extra_body=extra)
    assert said.output_text == "answer to: when? (c2)"
    streamed = client.completions.create(
        model="plain-app", prompt="who?", stream=True, extra_body=extra
    )
    assert "".join(c.choices[0].text for c in streamed if c.choices) == "answer to: who? (c2)"


def test_the_command_line_asks_a_plain_pyfunc_and_names_its_version(plain):
    answer = run_json("predict", "models:/plain-app@champion", "what?")
    assert answer["predictions"] == [{"model_id": "plain-app@1", "answer": "answer to: what?"}]
    shown = run("predict", "models:/plain-app@champion", "what?")
    assert shown.exit_code == 0 and "A: answer to: what?" in shown.stdout
    assert_one_line_error(
        run("predict", "models:/plain-app@champion", "x", "--input-map", "prompt=query"),
        "prompt", "does not accept (it takes context, question)",
    )  # fmt: skip
    given = run_json("predict", "models:/plain-app@champion", "what?", "--input", "context=c1")
    assert given["predictions"][0]["answer"] == "answer to: what? (c1)"
    assert_one_line_error(run("predict", "models:/plain-app@champion", "x", "--input", "c1"),
                          "--input wants NAME=VALUE")  # fmt: skip
    from tests.integration.test_cli import app, runner

    piped = runner.invoke(
        app, ["predict", "models:/plain-app@champion", "-", "--json"], input="what?\n\nwhy?\r\n"
    )  # one question a line, blank ones skipped
    assert [p["answer"] for p in json.loads(piped.stdout)["predictions"]] == [
        "answer to: what?", "answer to: why?"]  # fmt: skip


def test_other_required_inputs_need_an_input_map_and_then_answer(raygate_home, tmp_path):
    from raygate.registry.mlflow_registry import MlflowRegistry

    uri = log_code_model(tmp_path, ANSWERS_WITH_CONTEXT,
                         signature=_signature("question", "context"))  # fmt: skip
    registry = MlflowRegistry()
    with pytest.raises(ModelLoadError, match=r"requires input\(s\) question, context .*input_map"):
        load_agent(uri, registry)
    with pytest.raises(ConfigError, match="names prompt, which the model's signature does not"):
        load_agent(uri, registry, {"prompt": "query"})
    loaded = load_agent(uri, registry, {"question": "query", "context": "session_id"})
    (record,) = loaded.predict_records([{"query": "q1", "session_id": "s1", "user_id": "u"}])
    assert record == {"answer": "q1 | s1"}


def test_a_served_model_takes_its_other_inputs_from_each_request(raygate_home, tmp_path):
    """Serving loads a model whose required `context` no request field fills: each request
    sends it in `inputs`, and one that leaves it empty is the caller's 422, never asked."""
    from raygate.registry.mlflow_registry import MlflowRegistry
    from raygate.serving.model import _answer_whole
    from raygate.serving.outcomes import failure_of

    uri = log_code_model(tmp_path, ANSWERS_WITH_CONTEXT,
                         signature=_signature("question", "context"))  # fmt: skip
    loaded = load_agent(uri, MlflowRegistry(), {"question": "query"}, request_inputs=True)
    rows = [{"query": "q1", "inputs": {"context": "c1"}}, {"query": "q2"},
            {"query": "q3", "inputs": {"context": "c3", "colour": "red"}}]  # fmt: skip
    answered, empty, third = _answer_whole(loaded, rows, [[]] * 3)
    assert answered == {"answer": "q1 | c1"} and third == {"answer": "q3 | c3"}  # colour: unsent
    assert empty["finish_reason"] == "invalid_request"
    assert "the model needs context, which this request leaves empty" in empty["error"]
    assert '{"inputs": {"context": …}}' in empty["error"]
    assert failure_of(empty, "canary").status == 422
    assert_one_line_error(run("predict", uri, "q", "--input-map", "question=query"),
                          "the model needs context, which no option fills: pass --input "
                          "context=VALUE")  # fmt: skip
    asked = run_json("predict", uri, "q", "--input-map", "question=query", "--input", "context=c")
    assert asked["predictions"][0]["answer"] == "q | c"


ANSWERS_WITH_TOP_K = """
import mlflow.pyfunc
from mlflow.models import set_model

class AnswersWithTopK(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [f"{q} (top {k + 0})" for q, k in zip(model_input["question"], model_input["top_k"])]

set_model(AnswersWithTopK())
"""


def test_a_typed_input_beside_the_question_is_given_as_a_value(local_ray, raygate_home, tmp_path):
    """Required `question` (text) and `top_k` (a number): the query goes to the one text
    input; `--input top_k=5` is the number 5 (MLflow refused the text "5"), and a gold set
    fills top_k from each row's metadata (the error says so when it does not)."""
    import json

    import pandas as pd
    from mlflow.models import infer_signature

    signature = infer_signature(pd.DataFrame({"question": ["hi"], "top_k": [3]}), ["x"])
    uri = log_code_model(tmp_path, ANSWERS_WITH_TOP_K, signature=signature)
    asked = run_json("predict", uri, "q", "--input", "top_k=5")
    assert asked["predictions"][0]["answer"] == "q (top 5)"
    assert_one_line_error(run("predict", uri, "q", "--input", "top_k=five"),
                          "--input top_k=five: the model takes top_k as a value")  # fmt: skip
    # served: a request whose top_k is text is the caller's 422 (alone in its batch), never
    # the model's failure that the canary judge would count
    from raygate.registry.mlflow_registry import MlflowRegistry
    from raygate.serving.model import _answer_whole
    from raygate.serving.outcomes import failure_of

    loaded = load_agent(uri, MlflowRegistry(), {}, request_inputs=True)
    rows = [{"query": "q1", "inputs": {"top_k": 3}}, {"query": "q2", "inputs": {"top_k": "x"}}]
    answered, refused = _answer_whole(loaded, rows, [[]] * 2)
    assert answered == {"answer": "q1 (top 3)"} and failure_of(refused, "canary").status == 422
    assert refused["error"].startswith("the inputs do not fit the model's signature: ")
    assert "q2" not in refused["error"]  # MLflow's message quotes the rows: not kept
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"query": "2+2?", "expected": "4"}) + "\n")
    assert_one_line_error(run("eval", uri, "--gold", str(gold)),
                          "requires input(s) top_k", '{"metadata": {"top_k": …}}')  # fmt: skip
    gold.write_text(json.dumps({"query": "2+2?", "expected": "2+2? (top 4)", "match": "exact",
                                "metadata": {"top_k": 4}}) + "\n")  # fmt: skip
    assert run_json("eval", uri, "--gold", str(gold))["metrics"]["quality"] == 1.0


def test_a_model_that_raises_is_a_502_naming_who_failed_whole_or_streamed(plain):
    response = requests.post(f"{plain.url}/v1/predict", json={"query": "boom"},
                             headers=plain.headers, timeout=30)  # fmt: skip
    assert response.status_code == 502
    error = response.json()["error"]
    assert "ValueError: cannot answer that" in error["message"]
    assert error["model_id"] == "plain-app@1" and error["finish_reason"] == "error"
    assert error["variant"] in ("champion", "canary") and len(error["trace_id"]) == 32

    import openai

    client = openai.OpenAI(base_url=f"{plain.url}/v1", api_key=TOKEN, max_retries=0)
    with pytest.raises(openai.APIStatusError) as raised:
        stream = client.chat.completions.create(
            model="plain-app", messages=[{"role": "user", "content": "boom"}], stream=True
        )
        list(stream)
    assert raised.value.status_code == 502


def test_a_request_the_model_raises_on_fails_only_itself_not_those_batched_with_it(plain):
    """Requests arriving together are predicted in one batch; the model raising on one of
    them must not fail the others."""
    from concurrent.futures import ThreadPoolExecutor

    def ask(query: str) -> tuple[str, int]:
        response = requests.post(f"{plain.url}/v1/predict", json={"query": query},
                                 headers=plain.headers, timeout=60)  # fmt: skip
        return query, response.status_code

    queries = [f"q{i}" if i % 16 else f"boom {i}" for i in range(48)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = dict(pool.map(ask, queries))
    assert {q: s for q, s in statuses.items() if s != 200} == {
        "boom 0": 502, "boom 16": 502, "boom 32": 502,
    }  # fmt: skip


def test_a_body_not_sent_as_json_is_told_the_header_to_send(plain):
    response = requests.post(
        f"{plain.url}/v1/predict", data='{"query": "why?"}',
        headers={**plain.headers, "Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )  # fmt: skip
    assert response.status_code == 415
    assert "'Content-Type: application/json'" in response.json()["error"]["message"]


FAILS_TO_LOAD = """
import mlflow.pyfunc
from mlflow.models import set_model

class FailsToLoad(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        raise RuntimeError("the weights are gone")

    def predict(self, context, model_input, params=None):
        return ["never"] * len(model_input)

set_model(FailsToLoad())
"""


def test_a_model_that_cannot_load_is_one_error_naming_why_wherever_it_is_asked(
    local_ray, raygate_home, tmp_path, tiny_gold
):
    """The model's own load_context raising, or a URL given where a model goes: predict and
    eval say so in one line (eval: not as a crash on some row), never a traceback; the
    tracebacks of the actors Ray retried stay out of the command's output."""
    import os
    import subprocess
    import sys

    import ray

    uri = log_code_model(tmp_path, FAILS_TO_LOAD, signature=_signature("query"))
    said = "its loading code raised RuntimeError: the weights are gone"
    assert_one_line_error(run("predict", uri, "hello"), f"cannot load model {uri}: {said}")
    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    evaluated = subprocess.run(
        [sys.executable, "-m", "raygate.cli.main", "eval", uri, "--gold", str(tiny_gold)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert evaluated.returncode == 2 and evaluated.stdout == "", evaluated.stdout[-2000:]
    assert "Traceback" not in evaluated.stderr, evaluated.stderr[-3000:]
    last = evaluated.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "failed to start:" in last and said in last, last
    assert_one_line_error(run("predict", uri, "hello", " "), "QUERY 2 is blank")
    url = run("predict", "http://127.0.0.1:8000", "hello")
    assert_one_line_error(url, "cannot read model http://127.0.0.1:8000", "pass models:/")


def test_a_replica_whose_model_is_stuck_holding_what_every_call_needs_is_replaced(plain):
    """A call stuck in the model holding the one connection every call needs (an API called
    without a timeout, under a lock) made every later request a 504, forever: Serve's health
    check passed. The replica now fails it, and Serve replaces it."""
    url = f"{plain.url}/v1/predict"

    def ask(query: str) -> requests.Response:
        return requests.post(url, json={"query": query, "user_id": "u-wedge"},
                             headers=plain.headers, timeout=30)  # fmt: skip

    def replica_ids(variant: str) -> set[str]:
        (app,) = plain.control.details()["applications"].values()
        return {r["replica_id"] for r in app["deployments"][variant]["replicas"]}

    before = {variant: replica_ids(variant) for variant in ("champion", "canary")}
    wedged = ask("wedge it")
    assert wedged.status_code == 504
    variant = wedged.json()["error"]["variant"]  # the user's sticky variant
    assert ask("and now?").status_code == 504  # every call waits on the stuck one
    wait_for(lambda: ask("back?").status_code == 200, 120, "a replaced replica answering")
    assert not replica_ids(variant) & before[variant]
