"""The load generator on real Ray actors against real HTTP servers on 127.0.0.1: a server
that stalls on purpose, and the raygate serving app."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests

from raygate.loadtest.arrival import ArrivalConfig
from raygate.loadtest.runner import run_load
from raygate.loadtest.transport import Prompt, Target
from raygate.testing import free_port
from tests.integration.conftest import wait_for

# Answers at once, except that request number 100 blocks the whole server for 1.5 s (a
# stop-the-world pause, as a GC or a swap-in would).
STALLING_SERVER = """
import sys, time, uvicorn
count = 0
async def app(scope, receive, send):
    global count
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    count += 1
    if count == 100:
        time.sleep(1.5)
    body = b'{"answer": "ok"}'
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def wait_until_listening(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)


@pytest.fixture
def stalling_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", STALLING_SERVER, str(port)])
    try:
        wait_until_listening(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


PROMPTS = (Prompt("hello", "u1"), Prompt("world", None))


def test_open_loop_latency_includes_a_server_stall(local_ray, stalling_server, tmp_path):
    # Request 100 (1 s in; the probe above was request 1) stalls the server for 1.5 s: every
    # request scheduled meanwhile waits, and open-loop latency counts from its schedule.
    plan = ArrivalConfig(rate=100, duration_s=4, process="constant")
    run = run_load(Target(stalling_server), plan, PROMPTS, tmp_path / "open")
    summary = run.summary
    assert summary["requests"] == 400 and summary["error_rate"] == 0
    assert abs(summary["achieved_rate_rps"] - 100) <= 2
    # ~150 of 400 requests were due during the stall: p90 sits inside it, p99 near its length.
    assert summary["latency_ms_p90"] > 500 and summary["latency_ms_p99"] > 1000
    table = pq.read_table(run.results_path)
    assert table.num_rows == 400 and set(table.column("ok").to_pylist()) == {True}
    assert json.loads((tmp_path / "open" / "summary.json").read_text())["requests"] == 400


def test_closed_loop_counts_requests_in_flight(local_ray, stalling_server, tmp_path):
    plan = ArrivalConfig(concurrency=4, duration_s=2)
    summary = run_load(Target(stalling_server), plan, PROMPTS, tmp_path, workers=2).summary
    assert summary["mode"] == "closed" and summary["requests"] > 50
    assert summary["error_rate"] == 0 and summary["concurrency"] == 4


def test_unreachable_targets_are_recorded_as_errors_not_raised(local_ray, tmp_path):
    plan = ArrivalConfig(rate=20, duration_s=1, process="constant")
    target = Target(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    summary = run_load(target, plan, PROMPTS, tmp_path).summary
    assert summary["requests"] == 20 and summary["error_rate"] == 1.0
    assert list(summary["errors_by_type"]) == ["connection: ConnectionRefusedError"]


def test_a_load_worker_that_dies_mid_run_is_one_clear_error(local_ray, stalling_server, tmp_path):
    """Its node crashed or ran out of memory: the run stops with a LoadTestError saying what
    was collected and where, not Ray's traceback."""
    import os
    import signal
    import threading

    from ray.util.state import list_actors

    from raygate.errors import LoadTestError

    def kill_the_worker() -> None:
        time.sleep(3)  # started and sending (START_DELAY_S is 1 s)
        alive_workers = [("class_name", "=", "LoadWorker"), ("state", "=", "ALIVE")]
        (worker,) = list_actors(address=local_ray, filters=alive_workers, detail=True)
        os.kill(worker.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_worker)
    killer.start()
    plan = ArrivalConfig(rate=50, duration_s=30, process="constant")
    with pytest.raises(LoadTestError, match="load worker died mid-run") as raised:
        run_load(Target(stalling_server), plan, PROMPTS, tmp_path)
    killer.join()
    assert str(tmp_path / "results.parquet") in str(raised.value)
    assert not (tmp_path / "summary.json").exists()


def test_workers_the_cluster_has_no_room_for_are_an_error_not_a_wait(local_ray, tmp_path):
    """The session's Ray has 4 CPUs on one node: a worker of 64 can never start (said at
    once); two of 3 cannot start together (said after the start timeout, with what is free).
    Ray alone would wait for either forever."""
    from raygate.errors import ClusterError

    target, plan = Target(f"http://127.0.0.1:{free_port()}"), ArrivalConfig(rate=1, duration_s=1)
    with pytest.raises(ClusterError, match=r"each load worker asks for 64 CPU, but no node .*"
                       r"4 CPU.*lower --worker-cpus"):  # fmt: skip
        run_load(target, plan, PROMPTS, tmp_path, worker_cpus=64)
    notes = []
    with pytest.raises(ClusterError, match=r"2 load worker\(s\) of 3 CPU each did not all start "
                       r"within 2 s: the cluster has .* free of 4 CPU"):  # fmt: skip
        run_load(target, plan, PROMPTS, tmp_path, workers=2, worker_cpus=3, start_timeout_s=2,
                 on_wait=notes.append)  # fmt: skip
    assert len(notes) == 1 and "wait for resources" in notes[0], notes
    assert not (tmp_path / "results.parquet").exists()


# Answers every request and writes each query it received, in order, to the file it is given.
RECORDING_SERVER = """
import json, sys, uvicorn
log = open(sys.argv[2], "a", buffering=1)
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if body:
        log.write(json.loads(body)["query"] + "\\n")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"answer": "ok"}'})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_workers_are_dealt_the_workload_so_each_prompt_goes_once(local_ray, tmp_path, mode):
    port, seen = free_port(), tmp_path / "seen.txt"
    process = subprocess.Popen([sys.executable, "-c", RECORDING_SERVER, str(port), str(seen)])
    try:
        wait_until_listening(port)
        # more prompts than the run can send, so that none is reused by cycling
        prompts = tuple(Prompt(f"q{i}") for i in range(400 if mode == "open" else 60_000))
        arrival = (
            ArrivalConfig(rate=60, duration_s=2, process="constant")
            if mode == "open"
            else ArrivalConfig(concurrency=4, duration_s=0.5)
        )
        run = run_load(Target(f"http://127.0.0.1:{port}"), arrival, prompts, tmp_path, workers=2)
    finally:
        process.terminate()
        process.wait(timeout=10)
    received = seen.read_text().split()
    assert len(received) == run.summary["requests"] > 4
    assert len(set(received)) == len(received), "a prompt was sent twice"
    if mode == "open":  # the whole schedule, dealt like cards: exactly the first N prompts
        assert sorted(received, key=lambda q: int(q[1:])) == [f"q{i}" for i in range(120)]


def test_a_workload_file_that_cannot_be_read_is_one_clear_error(local_ray, tmp_path):
    from raygate.errors import LoadTestError
    from raygate.loadtest.workload import load_workload

    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes('{"query": "café"}\n'.encode("latin-1"))
    with pytest.raises(LoadTestError, match=r"latin1.jsonl: UnicodeDecodeError.*write UTF-8"):
        load_workload(str(latin1), None, users=1, seed=0)
    broken = tmp_path / "broken.jsonl"  # the cause, not the retry notes Ray Data adds after it
    broken.write_text('{"query": "why?"\n')
    with pytest.raises(LoadTestError, match=r"broken.jsonl: (?!To change)\w+Error: .*write UTF-8"):
        load_workload(str(broken), None, users=1, seed=0)
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + b'{"query": "why?"}\n')
    with pytest.raises(LoadTestError, match=r"bom.jsonl: the file starts with a byte-order mark"):
        load_workload(str(bom), None, users=1, seed=0)
    other = tmp_path / "other.jsonl"
    other.write_text('{"question": "why?"}\n')
    with pytest.raises(
        LoadTestError, match=r"no 'query', 'prompt', 'messages' or 'conversations' column \(col"
    ):
        load_workload(str(other), None, users=1, seed=0)
    good = tmp_path / "good.jsonl"
    good.write_text('{"query": "why?"}\n{"prompt": "ignored"}\n')
    assert [p.query for p in load_workload(str(good), None, users=1, seed=0)] == ["why?"]
    no_user = tmp_path / "no_user.jsonl"
    no_user.write_text('{"messages": [{"role": "system", "content": "Be brief."}]}\n')
    with pytest.raises(LoadTestError, match="no user turn"):
        load_workload(str(no_user), None, users=1, seed=0)


def test_a_workloads_inputs_or_gold_metadata_are_sent_as_the_models_other_inputs(
    local_ray, tmp_path
):
    from raygate.errors import LoadTestError
    from raygate.loadtest.transport import Target, request_body
    from raygate.loadtest.workload import load_workload

    gold = tmp_path / "gold.jsonl"  # a gold set's metadata, as eval sends it
    gold.write_text('{"query": "a?", "expected": ["x"], "metadata": {"context": "c1"}}\n'
                    '{"query": "b?", "expected": ["y"], "metadata": {"tier": "gold"}}\n'
                    '{"query": "c?", "expected": ["z"]}\n')  # fmt: skip
    prompts = {p.query: p for p in load_workload(str(gold), None, users=0, seed=0)}
    assert prompts["a?"].inputs == {"context": "c1"}  # not tier: null, which Arrow filled in
    assert prompts["b?"].inputs == {"tier": "gold"} and prompts["c?"].inputs is None
    target = Target(url="http://127.0.0.1:1", protocol="predict")
    assert request_body(target, prompts["a?"]) == {"query": "a?", "inputs": {"context": "c1"}}
    assert request_body(target, prompts["c?"]) == {"query": "c?"}
    array = tmp_path / "prompts.json"
    array.write_text('[{"prompt": "d?", "inputs": {"context": "c4"}}]')
    (prompt,) = load_workload(str(array), None, users=0, seed=0)
    assert prompt.inputs == {"context": "c4"}
    notes = tmp_path / "notes.csv"  # a 'metadata' column of text is a file's notes: not sent
    notes.write_text("prompt,metadata\nf?,from the 2024 survey\n")
    assert [p.inputs for p in load_workload(str(notes), None, users=0, seed=0)] == [None]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "e?", "inputs": "c5"}\n')
    with pytest.raises(LoadTestError, match=r"bad.jsonl: an 'inputs' value is not an object"):
        load_workload(str(bad), None, users=0, seed=0)


def test_a_workload_of_csv_rows_or_text_lines_is_read_as_prompts(local_ray, tmp_path):
    import gzip

    from raygate.loadtest.workload import load_workload

    table = tmp_path / "prompts.csv"
    table.write_text('prompt,notes\n"Return window, kettles?",a\nWhy?,b\n')
    assert sorted(p.query for p in load_workload(str(table), None, users=1, seed=0)) == [
        "Return window, kettles?", "Why?",
    ]  # fmt: skip
    lines = tmp_path / "prompts.txt"
    lines.write_text("What is the express fee?\n\nWhy?\n")
    assert sorted(p.query for p in load_workload(str(lines), None, users=1, seed=0)) == [
        "What is the express fee?", "Why?",
    ]  # fmt: skip
    packed = tmp_path / "prompts.csv.gz"  # compressed, as workloads are often kept
    packed.write_bytes(gzip.compress(table.read_bytes()))
    assert sorted(p.query for p in load_workload(str(packed), None, users=1, seed=0)) == [
        "Return window, kettles?", "Why?",
    ]  # fmt: skip


def test_a_workload_of_openai_chat_conversations_is_replayed_whole(local_ray, tmp_path):
    from raygate.loadtest.workload import load_workload

    chats = tmp_path / "chats.jsonl"
    parts = [{"type": "text", "text": "Return window"}, {"type": "text", "text": " for kettles?"}]
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": None},
        {"role": "user", "content": parts},
    ]
    chats.write_text(json.dumps({"messages": messages}) + "\n")
    (prompt,) = load_workload(str(chats), None, users=1, seed=0)
    assert prompt.query == "Return window for kettles?"  # what /v1/predict is sent
    assert [m["role"] for m in prompt.messages] == ["system", "user", "assistant", "user"]
    assert prompt.messages[2]["content"] == ""
    # OpenAI's fine-tuning format ends with the recorded answer: sent up to the user's turn
    answered = {"messages": [*messages, {"role": "assistant", "content": "60 days."}]}
    chats.write_text(json.dumps(answered) + "\n")
    (prompt,) = load_workload(str(chats), None, users=1, seed=0)
    assert [m["role"] for m in prompt.messages] == ["system", "user", "assistant", "user"]


# Answers every request with one status, as a server with auth on answers one without the
# right token (401), one without the path asked for (404) or one failing (500).
ANSWERING_SERVER = """
import json, sys, uvicorn
status = int(sys.argv[2])
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        part = await receive()
        body += part.get("body", b"")
        if not part.get("more_body"):
            break
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    error = {"message": {401: "no token", 404: "Not Found",
                         422: "the model needs context"}.get(status, "model failed")}
    if json.loads(body or b"{}").get("model") == "gone":  # as raygate and OpenAI say so
        error = {"message": "model 'gone' is not served here", "code": "model_not_found"}
    await send({"type": "http.response.body", "body": json.dumps({"error": error}).encode()})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


@contextmanager
def answering_server(status: int) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", ANSWERING_SERVER, str(port), str(status)])
    try:
        wait_until_listening(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _loadtest(url: str, *options: str):
    from typer.testing import CliRunner

    from raygate.cli.main import app

    command = ["loadtest", url, "--rate", "20", "--duration", "0.5", "--arrival", "constant"]
    return CliRunner().invoke(app, [*command, *options])


def test_a_url_nothing_answers_at_is_said_before_ray_is_joined(tmp_path):
    """No Ray at RAY_ADDRESS either: the URL is what the error names, in seconds."""
    import os
    import subprocess
    import sys

    url = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "RAY_ADDRESS": f"127.0.0.1:{free_port()}", "RAYGATE_HOME": str(tmp_path)}
    command = ["loadtest", url, "--rate", "5", "--duration", "5s"]
    done = subprocess.run([sys.executable, "-m", "raygate.cli.main", *command], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.strip().startswith(f"error: nothing answers at {url}"), done.stderr


def test_a_target_that_cannot_be_load_tested_as_asked_fails_before_the_load(local_ray, monkeypatch):
    """Nothing listening, a refused token, a path the service lacks, a request it finds
    invalid: one request of the workload says so before the load starts (exit 2, what to
    fix), not after --duration of identical failures."""
    unreachable = _loadtest(f"http://127.0.0.1:{free_port()}", "--duration", "30s")
    assert unreachable.exit_code == 2, unreachable.output
    assert "nothing answers at http://127.0.0.1:" in unreachable.stderr
    assert "ConnectionRefusedError" in unreachable.stderr
    monkeypatch.delenv("RAYGATE_API_TOKEN", raising=False)
    with answering_server(401) as url:
        refused = _loadtest(url, "--duration", "30s")
    assert refused.exit_code == 2, refused.output
    assert f"POST {url}/v1/predict was refused (401: no token)" in refused.stderr
    assert "$RAYGATE_API_TOKEN is not set" in refused.stderr
    with answering_server(404) as url:
        missing = _loadtest(url, "--duration", "30s")
        chat = _loadtest(url, "--protocol", "openai", "--model", "m", "--duration", "30s")
        gone = _loadtest(url, "--protocol", "openai", "--model", "gone", "--duration", "30s")
    assert missing.exit_code == 2, missing.output
    assert "answered 404: Not Found" in missing.stderr
    assert "or pass --protocol openai" in missing.stderr
    assert chat.exit_code == 2, chat.output
    assert f"POST {url}/v1/chat/completions answered 404" in chat.stderr
    assert "or pass --protocol predict" in chat.stderr
    assert gone.exit_code == 2, gone.output
    assert "model 'gone' is not served here: pass --model with a model the service" in gone.stderr
    with answering_server(422) as url:
        invalid = _loadtest(url, "--duration", "30s")
    assert invalid.exit_code == 2, invalid.output
    assert "answered 422: the model needs context: the service refuses the workload's" in (
        " ".join(invalid.stderr.split())
    )


def test_a_load_test_in_which_no_request_succeeded_fails_and_says_why(local_ray):
    """A run of failures measured nothing: exit 1, so a script cannot read it as a pass."""
    with answering_server(500) as url:
        failing = _loadtest(url)
    assert failing.exit_code == 1, failing.output
    assert "error: no request succeeded (http_500)" in failing.stderr


@pytest.mark.parametrize("stop, status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_ctrl_c_stops_the_load_with_a_summary_of_what_was_answered_and_never_a_pass(
    local_ray, stalling_server, raygate_home, tmp_path, stop, status
):
    """An hour-long run stopped by Ctrl-C: exit 130, the figures of the requests answered
    until then (results kept), and no MLflow run a load gate could read as evidence. SIGTERM
    (kill, Kubernetes, systemd) stops it the same way, exit 143: it ended at once, through
    the exit Ray's driver sets, with no figures."""
    import os
    import signal

    import mlflow
    import ray

    from raygate.tracking import configure_mlflow

    out = tmp_path / "out"
    command = [str(Path(sys.executable).parent / "raygate"), "loadtest", stalling_server,
               "--rate", "20", "--duration", "1h", "--out", str(out), "--log-mlflow", "--json",
               "--slo", "error_rate=0.5"]  # fmt: skip
    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal's
    )  # fmt: skip
    try:
        wait_for(lambda: (out / "results.parquet").exists() or process.poll() is not None,
                 120, "the load to start")  # fmt: skip
        time.sleep(3)
        process.send_signal(getattr(signal, stop))
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == status, stderr[-3000:]
    summary = json.loads(stdout)
    assert 0 < summary["interrupted_after_s"] < 60 and summary["requests"] >= 10
    # rates over the time it ran, not the hour planned (which would read ~0.01 req/s)
    assert summary["duration_s"] == summary["interrupted_after_s"]
    assert 5 < summary["throughput_rps"] <= 30
    assert "interrupted after" in stderr and "not logged to MLflow" in stderr
    assert "Token authentication is enabled" not in stderr  # Ray's note for starting one
    assert pq.read_table(out / "results.parquet").num_rows == summary["requests"]
    configure_mlflow()
    logged = f"tags.`raygate.run_kind` = 'loadtest' and params.url = '{stalling_server}'"
    assert mlflow.search_runs(search_all_experiments=True, filter_string=logged).empty


def test_an_https_target_is_load_tested_with_the_ca_the_user_names(
    local_ray, monkeypatch, tmp_path
):
    """A server with a self-signed certificate (Serve's own HTTPS, a staging endpoint): the
    probe and every worker trust what --ca-cert (or $SSL_CERT_FILE) names and nothing less;
    without it the run stops at once saying what to pass, not 'nothing answers'."""
    import http.server

    from raygate.testing import http_server, send_json
    from raygate.testing.certificates import self_signed_certificate

    class Answers(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            send_json(self, 200, {"answer": "ok", "finish_reason": "stop"})

        def log_message(self, *args):
            pass

    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with http_server(Answers, tls=(cert, key)) as url:
        untrusted = _loadtest(url, "--duration", "30s")
        trusted = _loadtest(url, "--ca-cert", str(cert), "--json")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        from_env = _loadtest(url, "--json")
        not_a_certificate = _loadtest(url, "--ca-cert", str(key))
    assert untrusted.exit_code == 2, untrusted.output
    said = " ".join(untrusted.stderr.split())
    assert "TLS certificate is not trusted here; pass --ca-cert" in said
    assert "nothing answers" not in said
    for run in (trusted, from_env):
        assert run.exit_code == 0, run.output
        summary = json.loads(run.stdout)
        assert summary["requests"] >= 5 and summary["failed"] == 0, summary
    assert not_a_certificate.exit_code == 2, not_a_certificate.output
    assert "not a PEM file of certificates" in " ".join(not_a_certificate.stderr.split())
