"""Pure parts of serving: routing, auth, settings, the OpenAI wire format, error messages and
Serve-config validation."""

import json
import random

import pytest
import yaml
from pydantic import ValidationError

from raygate.errors import ConfigError
from raygate.schemas import PredictRequest, validate_mapping
from raygate.serving.api_errors import describe_request_error
from raygate.serving.auth import authenticate, load_tokens, token_id
from raygate.serving.completions_api import CompletionRequest
from raygate.serving.control import check_serves, load_serve_config, with_runtime_env
from raygate.serving.openai_schema import (
    ChatCompletionRequest,
    ChunkStream,
    Served,
    completion_body,
    words,
)
from raygate.serving.responses_api import ResponsesRequest, response_body
from raygate.serving.routing import choose_variant, sticky_position
from raygate.serving.settings import AppArgs, RouterSettings


def test_sticky_routing_is_stable_and_a_ramp_only_adds_canary_users():
    users = [f"user-{i}" for i in range(2000)]
    rng = random.Random(0)
    both = ("champion", "canary")
    at_1 = {u for u in users if choose_variant(u, 1, both, rng) == "canary"}
    at_5 = {u for u in users if choose_variant(u, 5, both, rng) == "canary"}
    assert at_1 <= at_5 and 0.02 < len(at_5) / len(users) < 0.08
    assert sticky_position("user-7") == sticky_position("user-7")


def test_without_a_canary_or_weight_everything_goes_to_the_champion():
    rng, both = random.Random(0), ("champion", "canary")
    assert {choose_variant(None, 50, ("champion",), rng) for _ in range(100)} == {"champion"}
    assert {choose_variant("u", 0, both, rng) for _ in range(100)} == {"champion"}
    anonymous = [choose_variant(None, 30, both, rng) for _ in range(5000)]
    assert 0.27 < anonymous.count("canary") / 5000 < 0.33


def test_an_app_serving_the_canary_alone_answers_everything_as_the_canary():
    rng = random.Random(0)  # one side of a gateway split: the weight lives in the gateway
    assert {choose_variant(f"u{i}", 0, ("canary",), rng) for i in range(100)} == {"canary"}
    assert AppArgs(model_name="m", variants=["canary"]).variants == ["canary"]


def test_tokens_come_from_env_and_file_and_compare_exactly(tmp_path):
    secrets = tmp_path / "tokens"
    secrets.write_text("# comment\n  tok-file  \n\n")
    tokens = load_tokens({"RAYGATE_API_TOKENS": "a1, b2", "RAYGATE_API_TOKENS_FILE": str(secrets)})
    assert tokens == ("a1", "b2", "tok-file")
    assert authenticate("Bearer b2", tokens) == token_id("b2")
    assert authenticate("bearer tok-file", tokens) == token_id("tok-file")
    for header in (None, "", "Bearer", "Bearer b", "Basic b2", "Bearer b2x"):
        assert authenticate(header, tokens) is None
    assert "b2" not in token_id("b2")
    with pytest.raises(ConfigError, match="RAYGATE_API_TOKENS_FILE"):
        load_tokens({"RAYGATE_API_TOKENS_FILE": str(tmp_path / "missing")})


def test_settings_errors_name_the_deployment_and_field():
    with pytest.raises(ConfigError, match=r"router user_config: field 'canary_percent'"):
        validate_mapping({"canary_percent": 150}, RouterSettings, ConfigError, "router user_config")
    with pytest.raises(ConfigError, match="distinct"):
        validate_mapping({"model_name": "m", "variants": ["canary"] * 2}, AppArgs, ConfigError, "a")
    with pytest.raises(ConfigError, match="variants"):
        validate_mapping({"model_name": "m", "variants": []}, AppArgs, ConfigError, "args")


def test_chat_requests_carry_the_conversation_and_reject_what_they_cannot_do():
    request = ChatCompletionRequest.model_validate({
        "model": "m", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "first"}]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second"},
        ], "temperature": 0.2,
    })  # fmt: skip
    assert request.conversation() == [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"}, {"role": "user", "content": "second"},
    ]  # fmt: skip
    with pytest.raises(ValueError, match="n"):
        ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "x"}], n=2)


def test_options_of_other_openai_compatible_servers_are_accepted_and_ignored():
    request = ChatCompletionRequest.model_validate({
        "model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True,
        "top_k": 5, "repetition_penalty": 1.1,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
    })  # fmt: skip
    assert request.stream_options.include_usage and request.conversation()[-1]["content"] == "x"


@pytest.mark.parametrize(
    ("option", "field", "reason"),
    [
        ({"response_format": {"type": "json_object"}}, "response_format.type", "JSON"),
        ({"logprobs": True, "top_logprobs": 2}, "logprobs", "log-probabilities"),
        ({"tool_choice": "required"}, "tool_choice", "never a client's"),
    ],
)
def test_what_the_model_cannot_give_is_refused_naming_why(option, field, reason):
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    with pytest.raises(ValidationError) as raised:
        ChatCompletionRequest.model_validate(body | option)
    errors = [{**e, "loc": ("body", *e["loc"])} for e in raised.value.errors()]
    message, param = describe_request_error(errors)
    assert param == field and reason in message
    accepted = {"response_format": {"type": "text"}, "logprobs": False, "tool_choice": "auto",
                "tools": [{"type": "function", "function": {"name": "f"}}]}  # fmt: skip
    assert ChatCompletionRequest.model_validate(body | accepted).conversation()
    with pytest.raises(ValidationError, match=r"text\.format\.type"):
        ResponsesRequest(model="m", input="x", text={"format": {"type": "json_schema"}})


def test_a_conversation_carrying_openai_s_other_message_fields_is_taken_as_its_text():
    """What a client sends back with an earlier reply (OpenAI's and vLLM's carry `refusal`
    and `annotations`), and tool turns, must not be a 422."""
    request = ChatCompletionRequest.model_validate({
        "model": "m", "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "hi", "refusal": None, "annotations": []},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
             "function": {"name": "calc", "arguments": "{}"}}]},
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
        ],
    })  # fmt: skip
    assert [m["content"] for m in request.conversation()] == ["a", "hi", "", "42"]
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    with pytest.raises(ValueError, match=r"part 1 is of type 'image_url'; only text parts"):
        ChatCompletionRequest(
            model="m",
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "what is this?"}, image]}
            ],
        )


def _streamed(prediction, served, include_usage):
    stream = ChunkStream(served, include_usage)
    pieces = [stream.text(w) for w in words(prediction.get("answer") or "")]
    return [stream.start(), *pieces, *stream.end(prediction)]


def test_stream_chunks_carry_the_answer_then_the_reason_then_usage():
    served = Served(variant="canary", model_id="m@2", trace_id="t" * 32)
    prediction = {"answer": "60 days", "tokens_in": 10, "tokens_out": 2, "refused": False}
    chunks = _streamed(prediction, served, include_usage=True)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "60 days" and chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    assert all(c["variant"] == "canary" and c["model"] == "m@2" for c in chunks)
    refused = _streamed({"answer": "no", "refused": True}, served, include_usage=False)
    assert refused[-1]["choices"][0]["finish_reason"] == "content_filter"


@pytest.mark.parametrize(
    ("chunk", "text"),
    [
        ("plain", "plain"),
        ({"answer": "a"}, "a"),
        ({"choices": [{"delta": {"content": "c"}}]}, "c"),  # ChatModel
        ({"delta": {"content": "d", "role": "assistant"}}, "d"),  # ChatAgent
        ({"type": "response.output_text.delta", "delta": "r"}, "r"),  # ResponsesAgent
        ({"type": "response.output_item.done", "item": {}}, ""),
        ({"output": "o", "messages": []}, "o"),  # LangChain agent's last chunk
        ({"content": "m", "type": "AIMessageChunk"}, "m"),
        (42, ""),
    ],
)
def test_each_flavors_stream_chunk_gives_its_text(chunk, text):
    from raygate.packaging.streaming import chunk_text

    assert chunk_text(chunk) == text


def _read(chunks):
    from raygate.packaging.streaming import StreamReader

    reader = StreamReader()
    return [reader.text(chunk) for chunk in chunks], reader.record()


def _item(text, item_id):
    content = [{"type": "output_text", "text": text, "annotations": []}]
    return {"type": "message", "id": item_id, "role": "assistant", "content": content}


def test_a_stream_s_output_row_says_how_it_ended_as_its_chunks_said():
    chat_model = [
        {"choices": [{"delta": {"role": "assistant", "content": "cut "}}]},
        {"choices": [{"delta": {"content": "off"}, "finish_reason": "length"}],
         "usage": {"prompt_tokens": 7, "completion_tokens": 2}},
    ]  # fmt: skip
    texts, record = _read(chat_model)
    assert texts == ["cut ", "off"]
    assert record == {"answer": "cut off", "finish_reason": "length", "tokens_in": 7,
                      "tokens_out": 2}  # fmt: skip
    chat_agent = [{"delta": {"content": "no"}, "finish_reason": "content_filter"}]
    assert _read(chat_agent)[1]["refused"] is True
    _, plain = _read(["a", "b"])  # a PythonModel of strings says nothing: nothing made up
    assert plain == {"answer": "ab", "finish_reason": "answer", "tokens_in": None,
                     "tokens_out": None}  # fmt: skip
    incomplete = {"type": "response.incomplete", "response": {"status": "incomplete",
                  "incomplete_details": {"reason": "max_output_tokens"}, "output": [],
                  "usage": {"input_tokens": 3, "output_tokens": 9}}}  # fmt: skip
    texts, record = _read([{"type": "response.output_text.delta", "delta": "x"}, incomplete])
    assert (record["answer"], record["finish_reason"], record["tokens_out"]) == ("x", "length", 9)


def test_a_responses_stream_s_items_count_once_whether_sent_as_deltas_or_whole():
    whole_only = [{"type": "response.output_item.done", "item": _item("all at once", "o1")}]
    texts, record = _read(whole_only)
    assert texts == ["all at once"] and record["answer"] == "all at once"
    both = [
        {"type": "response.output_text.delta", "item_id": "o1", "delta": "piece"},
        {"type": "response.output_item.done", "item": _item("piece", "o1")},
        {"type": "response.output_item.done", "item": _item(" and more", "o2")},
    ]
    assert _read(both)[1]["answer"] == "piece and more"


@pytest.mark.parametrize(
    "failure",
    [
        {"type": "error", "message": "quota exceeded", "code": "rate_limit"},
        {"type": "response.failed", "response": {"error": {"message": "quota exceeded"}}},
    ],
)
def test_a_stream_that_reports_a_failure_is_a_failed_answer_not_a_short_one(failure):
    from raygate.errors import ModelFailedError

    with pytest.raises(ModelFailedError, match="stream reported an error: quota exceeded"):
        _read([{"type": "response.output_text.delta", "delta": "part"}, failure])


def test_validation_messages_name_the_field_and_suggest_spelling():
    message, param = describe_request_error([
        {"type": "missing", "loc": ("body", "query"), "msg": "Field required"},
        {"type": "extra_forbidden", "loc": ("body", "qurey"), "msg": "Extra inputs"},
    ])  # fmt: skip
    assert param == "query" and "unknown field(s): qurey" in message
    message, _ = describe_request_error([{"type": "json_invalid", "loc": ("body", 1), "msg": "x"}])
    assert "not valid JSON" in message


def test_a_body_that_cannot_be_read_says_why_and_one_too_large_is_413_however_sent():
    """FastAPI reports any unreadable body as "There was an error parsing the body" (and a
    limit hit while a chunked body streams in as that too, before this was mended)."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from raygate.serving.api_errors import BodyLimit, install_error_handlers

    app = FastAPI()
    app.add_middleware(BodyLimit, limit=lambda: 20_000)
    install_error_handlers(app)

    @app.post("/echo")
    def echo(body: dict) -> dict:
        return body

    client = TestClient(app)
    json_header = {"content-type": "application/json"}

    def error(content, **headers) -> tuple[int, str]:
        response = client.post("/echo", content=content, headers={**json_header, **headers})
        return response.status_code, response.json()["error"]["message"]

    assert client.post("/echo", json={"query": "hi"}).json() == {"query": "hi"}

    @app.get("/broken")
    def broken() -> dict:
        raise RuntimeError("a bug")

    crashed = TestClient(app, raise_server_exceptions=False).get("/broken")
    assert crashed.status_code == 500 and crashed.json()["error"]["message"] == (
        "the server failed on this request (RuntimeError); its log has the traceback"
    )  # an OpenAI-style body the openai SDK reads, not Starlette's bare text
    assert error(b'{"query": "\xff"}') == (
        400,
        "request body is not UTF-8 (byte 0xff at position 11); send JSON encoded as UTF-8",
    )
    status, message = error(b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    assert status == 400 and "nests too deeply" in message
    big = b'{"query": "' + b"x" * 30_000 + b'"}'
    too_large = (
        413,
        "request body is larger than 20000 bytes (the server's max_body_bytes); send less",
    )
    assert error(big) == too_large  # declared by Content-Length
    assert error(iter([big[:15_000], big[15_000:]])) == too_large  # chunked: counted as it comes


# JSON allows "\\ud800" as an escape; no text encoding takes half of a surrogate pair.
LONE_SURROGATE_BODIES = [
    ("/predict", PredictRequest, '{"query": "hi", "user_id": "HALF"}', "user_id"),
    ("/predict", PredictRequest, '{"query": "hi", "inputs": {"ctx": ["HALF"]}}', "inputs.ctx.0"),
    ("/chat", ChatCompletionRequest,
     '{"model": "m", "messages": [{"role": "user", "content": "HALF hi"}]}', "messages.0.content"),
    ("/responses", ResponsesRequest, '{"model": "m", "input": "HALF hi"}', "input"),
    ("/completions", CompletionRequest, '{"model": "m", "prompt": ["HALF"]}', "prompt.0"),
]  # fmt: skip


@pytest.mark.parametrize("path, model, body, param", LONE_SURROGATE_BODIES)
@pytest.mark.parametrize("half", ["\\ud800", "\\udfff"])
def test_text_that_is_half_a_surrogate_pair_is_a_422_naming_its_field(
    path, model, body, param, half
):
    """It reached the model (a 502 counted against the variant) or the router's hash of the
    user id (a bare 500); a whole pair is text like any other."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from raygate.serving.api_errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    def echo(body):
        return body.model_dump()

    echo.__annotations__ = {"body": model}
    app.post(path)(echo)
    client = TestClient(app)

    def post(text: str):
        content = body.replace("HALF", text).encode()
        return client.post(path, content=content, headers={"content-type": "application/json"})

    refused = post(half)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["param"] == param and "not valid Unicode" in error["message"]
    assert post("\\ud83d\\ude00").status_code == 200


def write(tmp_path, config) -> str:
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


APP = {"name": "raygate", "import_path": "raygate.serving.app:build_app",
       "args": {"model_name": "m", "variants": ["champion"]}}  # fmt: skip


def test_serve_configs_are_checked_before_deploying(tmp_path):
    assert load_serve_config("serve_configs/canary.yaml")["applications"][0]["name"] == "raygate"
    with pytest.raises(ConfigError, match="does not exist"):
        load_serve_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="exactly one application"):
        load_serve_config(write(tmp_path, {"applications": []}))
    bad = {**APP, "deployments": [{"name": "router", "user_config": {"canary_pct": 5}}]}
    with pytest.raises(ConfigError, match=r"deployment 'router' user_config: field 'canary_pct'"):
        load_serve_config(write(tmp_path, {"applications": [bad]}))


def test_a_variant_whose_model_cannot_resolve_is_refused_before_deploying(monkeypatch):
    from raygate.errors import UnknownAliasError
    from raygate.serving.control import check_models_resolve
    from raygate.testing.fakes import FakeRegistry

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = load_serve_config("serve_configs/canary.yaml")
    registry = FakeRegistry()
    registry.register("reference-agent", "runs:/r1/agent", {})
    registry.set_alias("reference-agent", "champion", 1)
    with pytest.raises(
        UnknownAliasError,
        match=r"deployment 'canary' serves models:/reference-"
        r"agent@candidate, but .* no alias 'candidate'.*; nothing was deployed",
    ):
        check_models_resolve(config, registry)
    config["applications"][0]["runtime_env"] = {"env_vars": {"MLFLOW_TRACKING_URI": "http://x"}}
    check_models_resolve(config, registry)  # the replicas read another store: not ours to say
    registry.set_alias("reference-agent", "candidate", 1)
    check_models_resolve(load_serve_config("serve_configs/canary.yaml"), registry)


def test_runtime_env_carries_the_store_and_token_file_path_never_tokens(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYGATE_API_TOKENS", "super-secret")
    monkeypatch.setenv("RAYGATE_API_TOKENS_FILE", str(tmp_path / "tokens"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/x.db")
    config = with_runtime_env({"applications": [APP]})
    env = config["applications"][0]["runtime_env"]["env_vars"]
    assert env == {"MLFLOW_TRACKING_URI": "sqlite:////tmp/x.db",
                   "RAYGATE_API_TOKENS_FILE": str(tmp_path / "tokens")}  # fmt: skip
    assert "super-secret" not in yaml.safe_dump(config) and "runtime_env" not in APP


def test_runtime_env_carries_where_traces_go_but_not_the_collectors_credentials(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/x.db")
    monkeypatch.setenv("RAYGATE_TRACES", "jsonl,otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer collector-secret")
    app = APP | {"runtime_env": {"env_vars": {"RAYGATE_TRACES": "otlp"}}}
    env = with_runtime_env({"applications": [app]})["applications"][0]["runtime_env"]["env_vars"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4318"
    assert env["RAYGATE_TRACES"] == "otlp"  # the config's own setting wins
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in env


def test_a_local_cluster_writes_serving_telemetry_where_this_shell_reads_it(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYGATE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RAYGATE_TELEMETRY_DIR", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/x.db")

    def env(app, local):
        return with_runtime_env({"applications": [app]}, local)["applications"][0][
            "runtime_env"]["env_vars"]  # fmt: skip

    assert env(APP, local=True)["RAYGATE_TELEMETRY_DIR"] == str(tmp_path / "home" / "telemetry")
    assert "RAYGATE_TELEMETRY_DIR" not in env(APP, local=False)  # another machine's paths
    own = APP | {"runtime_env": {"env_vars": {"RAYGATE_TELEMETRY_DIR": "/shared/telemetry"}}}
    assert env(own, local=True)["RAYGATE_TELEMETRY_DIR"] == "/shared/telemetry"


@pytest.mark.parametrize(
    ("prediction", "status", "reason"),
    [
        ({"finish_reason": "error", "error": "ConnectError: refused"}, 502, "error"),
        ({"finish_reason": "step_timeout", "error": "no answer within 30 s"}, 504, "step_timeout"),
        ({"finish_reason": "deadline", "error": "total deadline reached"}, 504, "deadline"),
        (
            {"finish_reason": "rate_limited", "error": "rate_limited: retry after 2.4 s"},
            429,
            "rate_limited",
        ),
        ({"answer": "x", "error": "boom"}, 502, "error"),  # a user's pyfunc without reasons
    ],
)
def test_failed_requests_are_never_2xx(prediction, status, reason):
    from raygate.serving.outcomes import failure_of

    failure = failure_of(prediction, "canary")
    assert (failure.status, failure.finish_reason) == (status, reason)
    assert "canary" in failure.message
    assert failure.retry_after_s == (3 if status == 429 else None)


@pytest.mark.parametrize("reason", ["answer", "abstain", "refused", "max_steps", "loop_detected"])
def test_limits_that_still_answer_stay_200(reason):
    from raygate.serving.outcomes import failure_of

    assert failure_of({"finish_reason": reason, "answer": "", "error": None}, "champion") is None


def test_a_weight_on_an_app_without_a_canary_is_an_error_and_zero_is_none():
    from raygate.serving.control import APP_IMPORT_PATH, ServeControl

    control = ServeControl.__new__(ServeControl)
    args = {"model_name": "m", "variants": ["champion"]}
    app = {"deployed_app_config": {"import_path": APP_IMPORT_PATH, "args": args}}
    control.details = lambda: {"applications": {"raygate": app}}
    with pytest.raises(ConfigError, match="serves no canary"):
        control.set_weight(10)
    deployed = []  # 0 %, which promote and rollback ask for, is what it has: no error
    control._deploy = deployed.append
    control.set_weight(0)
    (router,) = deployed[0]["applications"][0]["deployments"]
    assert router["name"] == "router" and router["user_config"]["canary_percent"] == 0


def test_an_app_started_by_serve_run_with_an_import_path_is_told_to_deploy_a_config():
    """What Ray's `serve run raygate.serving.app:build_app model_name=m` leaves: an app with
    no config (source imperative); `serve run CONFIG` and `serve deploy CONFIG` leave one."""
    from raygate.errors import ServeError
    from raygate.serving.control import ServeControl

    control = ServeControl.__new__(ServeControl)
    app = {"source": "imperative", "deployed_app_config": None,
           "deployments": {"router": {}, "champion": {}}}  # fmt: skip
    control.details = lambda: {"applications": {"default": app}}
    with pytest.raises(ServeError, match="'default' was started by `serve run IMPORT_PATH`"):
        control.set_weight(10)
    control.details = lambda: {"applications": {}}
    with pytest.raises(ServeError, match="no raygate application is deployed"):
        control.status()


def test_a_change_not_applied_in_time_says_what_serve_says_about_it():
    """A replica the cluster has no room for: Serve's own message names the resources."""
    waiting = ("Deployment 'router' in application 'raygate' has 1 replicas that have taken "
               'more than 30s to be scheduled. Resources required for each replica: {"CPU": 1}, '
               'total resources available: {"CPU": 0.0}.')  # fmt: skip
    said = _wait_error(_app("DEPLOYING", "new", "old", "UPDATING"), waiting, timeout_s=0)
    assert said.startswith(
        "deployment 'router' has not applied the change after 0 s (status UPDATING: "
        "Deployment 'router' in application 'raygate' has 1 replicas"
    )
    assert 'total resources available: {"CPU": 0.0}' in said


def test_a_replica_that_fails_to_start_is_said_in_one_line_without_its_traceback():
    """Serve's message carries the replica's whole traceback (~50 lines)."""
    failed = (
        "The deployment failed to start 3 times in a row. See controller logs for details. "
        "Error:\n\x1b[36mray::ServeReplica:raygate:canary.initialize_and_get_metadata()\n"
        "RuntimeError: Traceback (most recent call last):\n"
        '  File "/src/raygate/serving/model.py", line 89, in _load_if_changed\n'
        "    version = resolve_model_uri(settings.model_uri, registry)\n"
        "raygate.errors.UnknownAliasError: model 'ex' has no alias 'candidate' (aliases: "
        "champion→v1); set one with `raygate registry alias ex candidate VERSION`\n"
    )
    assert _wait_error(_app("DEPLOY_FAILED", "new", "old", "DEPLOY_FAILED"), failed, 60) == (
        "deployment 'router' failed to apply the change: The deployment failed to start 3 "
        "times in a row. See controller logs for details. The replica failed with: model 'ex' "
        "has no alias 'candidate' (aliases: champion→v1); set one with `raygate registry alias "
        "ex candidate VERSION` (its traceback is in Serve's logs)"
    )


@pytest.mark.parametrize("proxy_status", ["STARTING", "UNHEALTHY"])
def test_an_app_no_proxy_can_serve_is_not_up_and_the_port_is_named(proxy_status):
    """Another process holding Serve's port: the app runs HEALTHY behind a proxy that
    never binds, and `serve up` said it was up."""
    from raygate.errors import ServeError
    from raygate.serving.control import ServeControl

    app = _app("RUNNING", "new", "new", "HEALTHY")
    proxy = {"node_ip": "10.0.0.1", "status": proxy_status}
    details = {"applications": {"raygate": app}, "proxies": {"n1": proxy},
               "http_options": {"host": "127.0.0.1", "port": 8000}}  # fmt: skip
    control = ServeControl.__new__(ServeControl)
    control.details = lambda: details
    control._raygate_app_details = lambda details: ("raygate", app)
    control.status = lambda: "up"
    with pytest.raises(ServeError, match=f"proxy on node 10.0.0.1 is .*{proxy_status}.*8000"):
        control.wait_applied("new", timeout_s=0)
    proxy["status"] = "DRAINING"  # a node without replicas: fine
    assert control.wait_applied("new", timeout_s=0) == "up"


def test_a_config_that_leaves_settings_to_the_defaults_still_carries_the_change(
    tmp_path, monkeypatch
):
    """A user's minimal config (no deployments listed): `serve up` waited for a change id no
    deployment carried, and timed out on an app that was up."""
    from raygate.serving.control import APP_IMPORT_PATH, ServeControl

    monkeypatch.setenv("RAYGATE_HOME", str(tmp_path))
    control = ServeControl.__new__(ServeControl)
    sent = []
    control._deploy, control.address = sent.append, "http://127.0.0.1:8265"
    control.details = lambda: {"applications": {}}  # a cluster that serves nothing yet
    app = {"name": "myapp", "import_path": APP_IMPORT_PATH, "args": {"model_name": "m"}}
    change = control.up({"applications": [app]})
    (deployed,) = sent[0]["applications"]
    user_configs = {d["name"]: d["user_config"] for d in deployed["deployments"]}
    assert set(user_configs) == {"router", "champion"}
    assert {c["change_id"] for c in user_configs.values()} == {change}
    assert user_configs["champion"]["model_uri"] == "models:/m@champion"
    assert user_configs["router"]["auth"] is True


def test_ctrl_c_while_waiting_for_a_change_says_it_was_sent():
    from raygate.serving.control import ServeControl

    def interrupted():
        raise KeyboardInterrupt

    control = ServeControl.__new__(ServeControl)
    control.details = interrupted
    with pytest.raises(KeyboardInterrupt, match="the change was sent; Serve goes on"):
        control.wait_applied("new", timeout_s=60)


def test_a_config_serve_refuses_with_a_traceback_is_said_in_one_line():
    from raygate.serving.control import _refusal

    refused = (
        "Request failed with status code 500: Traceback (most recent call last):\n"
        '  File "serve_head.py", line 175, in put_all_applications\n'
        "ray.exceptions.RayTaskError(RuntimeError): ray::ProxyActor.ready()\n"
        "RuntimeError: Failed to bind to address '127.0.0.1:8000'.\n.\n"
    )
    assert _refusal(refused).startswith(
        "its HTTP proxy could not start: Failed to bind to address '127.0.0.1:8000'. "
        "Another process holds the port"
    )
    other = "Traceback (most recent call last):\n  File x\nValueError: bad route_prefix\n"
    assert _refusal(other) == "ValueError: bad route_prefix (the traceback is in Serve's logs)"
    assert _refusal("invalid config") == "invalid config"


def test_a_replica_restarting_elsewhere_in_the_app_is_waited_out_not_a_failed_change():
    """The canary's replica killed mid-release: the app is UNHEALTHY until Serve restarts it,
    while the router has applied the weight; the controller's weight change failed on it."""
    from raygate.serving.control import ServeControl

    restarting = _app("UNHEALTHY", "new", "new", "HEALTHY")
    recovered = _app("RUNNING", "new", "new", "HEALTHY")
    seen = iter([restarting, restarting, recovered])
    control = ServeControl.__new__(ServeControl)
    control.details = lambda: {"applications": {"raygate": next(seen)}}
    control._raygate_app_details = lambda details: ("raygate", details["applications"]["raygate"])
    control.status = lambda: "up"
    assert control.wait_applied("new", timeout_s=60) == "up"


def test_every_failed_finish_reason_has_a_status():
    from raygate.constants import FAILED_FINISH_REASONS
    from raygate.serving.outcomes import FAILURE_STATUS

    assert FAILURE_STATUS.keys() == FAILED_FINISH_REASONS


def _wait_error(app, router_message: str, timeout_s: float) -> str:
    """The ServeError wait_applied raises for `app` whose router says `router_message`."""
    from raygate.errors import ServeError
    from raygate.serving.control import ServeControl

    app["deployments"]["router"]["message"] = router_message
    control = ServeControl.__new__(ServeControl)
    control.details = lambda: {"applications": {"raygate": app}}
    control._raygate_app_details = lambda details: ("raygate", app)
    with pytest.raises(ServeError) as raised:
        control.wait_applied("new", timeout_s=timeout_s)
    return str(raised.value)


def _app(status, target_id, running_id, deployment_status):
    target = {"name": "router", "user_config": {"change_id": target_id}}
    running = {"status": deployment_status,
               "deployment_config": {"user_config": {"change_id": running_id}}}  # fmt: skip
    return {
        "status": status,
        "deployed_app_config": {"deployments": [target]},
        "deployments": {"router": running},
    }


@pytest.mark.parametrize(
    ("app", "waiting_on"),
    [
        (_app("RUNNING", "old", "old", "HEALTHY"), "the application"),  # not taken in yet
        (_app("RUNNING", "new", "old", "HEALTHY"), "deployment 'router'"),  # a stale HEALTHY
        (_app("RUNNING", "new", "new", "UPDATING"), "deployment 'router'"),  # replicas pending
        (_app("DEPLOYING", "new", "new", "HEALTHY"), "the application"),
        (_app("RUNNING", "new", "new", "HEALTHY"), None),
    ],
)
def test_a_change_is_applied_only_once_serve_runs_it_healthy(app, waiting_on):
    from raygate.serving.control import _pending

    pending = _pending(app, "new")
    assert (pending[0][0] if pending else None) == waiting_on


def test_replicas_of_one_variant_on_different_versions_are_flagged():
    from raygate.serving.replica_versions import mixed_versions

    same = [{"model_id": "m@1"}, {"model_id": "m@1"}, None]
    assert mixed_versions(same) is None
    warning = mixed_versions([{"model_id": "m@1"}, {"model_id": "m@2"}, {"model_id": "m@2"}])
    assert warning and "m@1 on 1" in warning and "m@2 on 2" in warning


def test_model_calls_default_to_serve_s_own_handle_options():
    from raygate.serving.settings import AppArgs

    assert AppArgs(model_name="m").model_calls.handle_options() == {}
    grpc = AppArgs(model_name="m", model_calls={"by_reference": False, "serialization": "msgpack"})
    assert grpc.model_calls.handle_options() == {
        "_by_reference": False, "request_serialization": "msgpack",
        "response_serialization": "msgpack",
    }  # fmt: skip


def test_a_serializer_whose_package_is_missing_is_a_clear_error(monkeypatch):
    import importlib.util

    from raygate.errors import ConfigError
    from raygate.serving.settings import ModelCalls

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="needs the ormsgpack package where Ray runs"):
        ModelCalls(serialization="msgpack").handle_options()


def test_usage_is_what_the_model_counted_or_null_never_zeros():
    served = Served(variant="champion", model_id="m@1", trace_id="t" * 32)
    counted = {"answer": "a", "tokens_in": 10, "tokens_out": 2}
    assert completion_body(counted, served)["usage"] == {
        "prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12,
    }  # fmt: skip
    assert response_body(counted, served)["usage"]["total_tokens"] == 12
    uncounted = {"answer": "a"}  # a pyfunc that returns text only
    assert completion_body(uncounted, served)["usage"] is None
    assert response_body(uncounted, served)["usage"] is None
    assert ChunkStream(served, include_usage=True).end(uncounted)[-1]["usage"] is None


@pytest.mark.parametrize(
    ("prediction", "status", "reason"),
    [
        ({"answer": "60 days", "finish_reason": "answer"}, "completed", None),
        ({"answer": "cut o", "finish_reason": "length"}, "incomplete", "max_output_tokens"),
        ({"answer": "I can't help", "refused": True}, "incomplete", "content_filter"),
    ],
)
def test_a_response_cut_at_a_limit_or_filtered_is_incomplete_with_its_text(
    prediction, status, reason
):
    from openai.types.responses import Response

    served = Served(variant="champion", model_id="m@1", trace_id="t" * 32)
    body = response_body(prediction, served)
    parsed = Response.model_validate(body)  # as the openai SDK reads it
    assert parsed.status == status and parsed.output_text == prediction["answer"]
    assert (parsed.incomplete_details.reason if parsed.incomplete_details else None) == reason


@pytest.mark.parametrize(
    ("option", "field", "reason"),
    [
        ({"echo": True}, "echo", "does not repeat the prompt"),
        ({"suffix": "end"}, "suffix", "toward a suffix"),
        ({"logprobs": 5}, "logprobs", "log-probabilities"),
        ({"prompt": ["one", "two"]}, "prompt", "one text prompt per request"),
        ({"prompt": [1, 2, 3]}, "prompt", "one text prompt per request"),  # token ids
    ],
)
def test_a_legacy_completion_asks_one_text_prompt_and_is_refused_what_it_cannot_have(
    option, field, reason
):
    from raygate.serving.completions_api import CompletionRequest

    body = {"model": "m", "prompt": "What is the return window?"}
    with pytest.raises(ValidationError) as raised:
        CompletionRequest.model_validate(body | option)
    errors = [{**e, "loc": ("body", *e["loc"])} for e in raised.value.errors()]
    message, param = describe_request_error(errors)
    assert param.split(".")[0] == field and reason in message, message
    sampled = {"max_tokens": 16, "temperature": 0, "stop": ["\n"], "ignore_eos": True}
    request = CompletionRequest.model_validate(body | {"prompt": ["hi"]} | sampled)
    assert request.conversation() == [{"role": "user", "content": "hi"}]


def test_a_legacy_completion_reads_as_the_openai_sdk_types_it_whole_and_streamed():
    from openai.types import Completion

    from raygate.serving.completions_api import CompletionEvents, text_completion_body

    served = Served(variant="canary", model_id="m@2", trace_id="t" * 32)
    prediction = {"answer": "60 days", "finish_reason": "length", "tokens_in": 9, "tokens_out": 2}
    whole = Completion.model_validate(text_completion_body(prediction, served))
    assert whole.choices[0].text == "60 days" and whole.choices[0].finish_reason == "length"
    assert whole.usage.total_tokens == 11
    stream = CompletionEvents(served, include_usage=True)
    events = [stream.start(), stream.text("60"), stream.text(" days"), *stream.end(prediction)]
    datas = [e.removeprefix("data: ").strip() for e in events if e]
    assert datas[-1] == "[DONE]"
    chunks = [json.loads(d) for d in datas[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == "60 days"
    last, usage_chunk = (Completion.model_validate(c) for c in chunks[-2:])  # typed in full
    assert last.choices[0].finish_reason == "length" and usage_chunk.usage.total_tokens == 11


def test_a_release_acts_only_on_an_app_that_serves_its_model_by_its_aliases():
    """promote, rollback and canary start of one model must not move another model's app."""
    from raygate.errors import ServeError

    (app,) = load_serve_config("serve_configs/canary.yaml")["applications"]
    check_serves(app, "reference-agent", "the app")  # the shipped config serves its model
    with pytest.raises(ServeError, match=r"the app serves reference-agent, not my-app: my-app's"):
        check_serves(app, "my-app", "the app")
    pinned = {**app, "deployments": [
        {**d, "user_config": {**d["user_config"], "model_uri": "models:/reference-agent/3"}}
        if d["name"] == "canary" else d for d in app["deployments"]
    ]}  # fmt: skip
    with pytest.raises(ServeError, match=r"'canary' deployment loads models:/reference-agent/3, "
                       r"not models:/reference-agent@candidate"):  # fmt: skip
        check_serves(pinned, "reference-agent", "the app")
    defaults = {**app, "deployments": [{"name": "router"}]}  # build_app's own model URIs
    check_serves(defaults, "reference-agent", "the app")


def test_a_release_needs_a_canary_to_ramp_and_promote_or_rollback_does_not(monkeypatch):
    from raygate import release_runtime
    from raygate.errors import ServeError

    class ChampionOnly:  # serve_configs/local.yaml, as the dashboard reports it
        def __init__(self, address, model_name):
            self.address = address

        def status(self):
            return {"application": "raygate", "deployments": {"router": {}, "champion": {}}}

    monkeypatch.setattr(release_runtime, "ServeControl", ChampionOnly)
    monkeypatch.setattr(release_runtime, "MlflowRegistry", lambda: None)
    monkeypatch.setattr(release_runtime, "MlflowReleaseStore", lambda: None)
    release_runtime.runtime("http://ray:8265", model_name="m")  # promote, rollback
    with pytest.raises(ServeError, match="serves m without a canary, which a release needs"):
        release_runtime.runtime("http://ray:8265", model_name="m", needs_canary=True)
