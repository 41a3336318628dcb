"""Pure parts of the load generator: arrival processes, metrics, SLOs, stream timings."""

import json

import numpy as np
import pyarrow as pa
import pytest
from pydantic import ValidationError

from raygate.errors import ConfigError
from raygate.loadtest.arrival import ArrivalConfig, send_times
from raygate.loadtest.http_client import HttpResponse
from raygate.loadtest.metrics import LoadAccumulator, parse_slos
from raygate.loadtest.runner import RESULT_SCHEMA
from raygate.loadtest.transport import _stream_timings


def test_poisson_arrivals_have_the_rate_and_dispersion_of_a_poisson_process():
    times = send_times(ArrivalConfig(rate=200, duration_s=100, seed=1))
    assert abs(len(times) - 20_000) < 4 * np.sqrt(20_000)  # within 4 sigma of the mean
    gaps = np.diff(times)
    assert abs(gaps.std() / gaps.mean() - 1) < 0.05  # exponential gaps: coefficient of variation 1
    counts = np.histogram(times, bins=100, range=(0, 100))[0]
    assert abs(counts.var() / counts.mean() - 1) < 0.35  # index of dispersion ≈ 1
    again = send_times(ArrivalConfig(rate=200, duration_s=100, seed=1))
    assert np.array_equal(times, again) and np.all(np.diff(times) >= 0)


def test_gamma_burstiness_changes_dispersion_and_constant_is_regular():
    bursty = np.diff(send_times(ArrivalConfig(rate=100, duration_s=200, process="gamma",
                                              burstiness=0.25, seed=2)))  # fmt: skip
    assert abs(bursty.std() / bursty.mean() - 2.0) < 0.2  # CV of gamma(k) gaps = 1/sqrt(k)
    regular = send_times(ArrivalConfig(rate=50, duration_s=2, process="constant"))
    assert len(regular) == 100 and np.allclose(np.diff(regular), 0.02) and regular[0] == 0


def test_a_ramp_thins_the_start_and_keeps_the_rate_after_it():
    times = send_times(ArrivalConfig(rate=400, duration_s=20, ramp_up_s=10, seed=3))
    during, after = np.sum(times < 10), np.sum(times >= 10)
    assert abs(during - 2000) < 4 * np.sqrt(2000) and abs(after - 4000) < 4 * np.sqrt(4000)
    assert np.sum(times < 5) < np.sum((times >= 5) & (times < 10)) / 2  # rate rises linearly


def test_plans_need_exactly_one_mode():
    with pytest.raises(ValidationError, match="exactly one"):
        ArrivalConfig(rate=10, concurrency=2, duration_s=1)
    with pytest.raises(ValidationError, match="exactly one"):
        ArrivalConfig(duration_s=1)


def table(rows: list[tuple]) -> pa.Table:
    columns = zip(*rows, strict=True)
    arrays = [pa.array(c, f.type) for c, f in zip(columns, RESULT_SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=RESULT_SCHEMA)


def summarize(results: pa.Table, duration_s: float, slos=None) -> dict:
    figures = LoadAccumulator(slos)
    figures.add(results)
    return figures.summary(duration_s)


def test_figures_do_not_depend_on_how_results_arrive():
    rows = [row(float(i), tokens=i % 3, variant="canary" if i % 4 else "champion")
            for i in range(1, 41)] + [row(99.0, ok=False, error="http_503")]  # fmt: skip
    whole = summarize(table(rows), 2.0, slos={"latency_ms_p95": 30})
    streamed = LoadAccumulator({"latency_ms_p95": 30})
    for start in range(0, len(rows), 7):
        streamed.add(table(rows[start : start + 7]))
    assert streamed.summary(2.0) == whole


def test_percentiles_of_a_long_run_stay_within_the_sketch_bound():
    from raygate.sketch import EXACT_UP_TO, RELATIVE_ERROR

    latencies = np.random.default_rng(0).lognormal(4, 0.8, 3 * EXACT_UP_TO)
    figures = LoadAccumulator()
    for start in range(0, latencies.size, 5000):
        figures.add(table([row(float(v)) for v in latencies[start : start + 5000]]))
    summary = figures.summary(60.0)
    assert summary["percentiles"] == "sketch" and summary["requests"] == latencies.size
    for p in (50, 90, 99):
        exact = np.percentile(latencies, p)
        assert abs(summary[f"latency_ms_p{p}"] / exact - 1) <= RELATIVE_ERROR + 0.002


def row(latency, ok=True, error=None, ttft=None, itl=(), tokens=None, variant="champion"):
    return (0, 0.0, latency, latency, ttft, list(itl), ok, 200 if ok else 503, error, 3, tokens,
            0.001 if ok else None, variant, "answer" if ok else "error", [], 0.0,
            f"m@{1 if variant == 'champion' else 2}")  # fmt: skip


def test_summary_on_a_hand_computed_case():
    rows = [row(10.0, tokens=5), row(20.0, tokens=5), row(30.0, tokens=5), row(40.0, tokens=5),
            row(100.0, ok=False, error="http_503")]  # fmt: skip
    summary = summarize(table(rows), duration_s=2.0, slos={"latency_ms_p95": 25})
    assert summary["requests"] == 5 and summary["succeeded"] == 4
    assert summary["throughput_rps"] == 2.0 and summary["error_rate"] == 0.2
    assert summary["goodput_rps"] == 1.0  # two of the four successes are within 25 ms
    assert summary["latency_ms_p50"] == 25.0  # failures are not in the latency percentiles
    assert summary["errors_by_type"] == {"http_503": 1}
    assert summary["output_tokens_per_s"] == 10.0 and summary["cost_usd_total"] == pytest.approx(
        0.004
    )
    assert summary["slo"] == {"passed": False, "checks": {"latency_ms_p95": {
        "value": pytest.approx(38.5), "limit": 25, "passed": False}}}  # fmt: skip


def test_the_printed_slos_say_a_throughput_floor_and_latency_ceilings(capsys):
    from raygate.cli.loadtest import _print

    rows = [row(10.0), row(20.0), row(30.0)]
    slos = {"latency_ms_p95": 25, "throughput_rps": 2, "ttft_ms_p95": 100}
    summary = summarize(table(rows), duration_s=1.0, slos=slos) | {"results": "r.parquet"}
    _print(summary)
    printed = capsys.readouterr().out
    assert "SLO latency_ms_p95 ≤ 25: 29 FAIL" in printed
    assert "SLO throughput_rps ≥ 2: 3 pass" in printed  # judged as a floor, printed as one
    assert "SLO ttft_ms_p95 ≤ 100: missing FAIL" in printed  # not streamed: nothing measured


def test_ttft_and_itl_percentiles_and_their_goodput():
    rows = [row(50.0, ttft=10.0, itl=[1.0, 3.0]), row(60.0, ttft=30.0, itl=[2.0])]
    summary = summarize(table(rows), 1.0, slos={"ttft_ms_p99": 20})
    assert summary["ttft_ms_p50"] == 20.0 and summary["itl_ms_p50"] == 2.0
    assert summary["goodput_rps"] == 1.0 and not summary["slo"]["passed"]


def test_slo_parsing_names_the_problem():
    assert parse_slos(["latency_ms_p95=800", "error_rate=0.01"]) == {
        "latency_ms_p95": 800.0, "error_rate": 0.01}  # fmt: skip
    for bad in ("latency_p95=800", "latency_ms_p95:800", "error_rate=lots"):
        with pytest.raises(ConfigError, match="SLO"):
            parse_slos([bad])


def test_stream_timings_come_from_event_arrival_times():
    def event(payload: str) -> bytes:
        return f"data: {payload}\n\n".encode()

    chunks = [(1.000, event('{"choices":[{"delta":{"role":"assistant","content":""}}]}')),
              (1.010, event('{"choices":[{"delta":{"content":"60"}}]}')),
              (1.015, event('{"choices":[{"delta":{"content":" days"}}]}')
               + event('{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}}')),
              (1.016, b"data: [DONE]\n\n")]  # fmt: skip
    response = HttpResponse(200, {"x-raygate-variant": "canary"}, b"", chunks)
    ttft, gaps, fields, error = _stream_timings(response, sent=0.995)
    assert ttft == pytest.approx(15.0) and gaps == [pytest.approx(5.0)] and error is None
    assert fields["tokens_in"] == 9 and fields["tokens_out"] == 2 and fields["variant"] == "canary"


def test_server_sent_events_are_read_as_the_format_allows_whatever_the_server_s_style():
    from raygate.loadtest.transport import sse_data

    stream = (b': ping\r\n\r\ndata:{"a":1}\r\n\r\nevent: x\ndata: {"b":\ndata: 2}\n\n'
              b"data: [DO")  # fmt: skip
    cut = stream.index(b"1}\r") + 3  # a CRLF split across two chunks
    events, rest = sse_data(stream[:cut])
    more, rest = sse_data(rest + stream[cut:])
    assert events == [] and more == [b'{"a":1}', b'{"b":\n2}'] and rest == b"data: [DO"


@pytest.mark.parametrize(
    ("events", "error"),
    [
        (['{"choices":[{"delta":{"content":"60"}}]}', '{"error":{"message":"boom"}}', "[DONE]"],
         "stream_error"),
        (['{"choices":[{"delta":{"content":"60"}}]}', '{"object":"error","message":"boom"}'],
         "stream_error"),
        (['{"choices":[{"delta":{"content":"60"}}]}'], "stream_incomplete"),
        (['{"choices":[{"delta":{"content":"60"},"finish_reason":"stop"}]}'], None),
    ],
)  # fmt: skip
def test_a_stream_that_failed_after_its_200_is_a_counted_error(events, error):
    chunks = [(1.0 + i, f"data: {e}\r\n\r\n".encode()) for i, e in enumerate(events)]
    assert _stream_timings(HttpResponse(200, {}, b"", chunks), sent=0.5)[3] == error


def test_observations_are_written_in_time_order_in_the_replay_format(tmp_path):
    import pyarrow.parquet as pq

    from raygate.canary.recordings import read_observations
    from raygate.loadtest.observations import write_observations

    def answered(finished_at, variant, status=200, finish_reason="answer", flags=()):
        return (0, 0.0, 12.0, 12.0, None, [], status == 200, status, None, 3, 4, 0.001, variant,
                finish_reason, list(flags), finished_at, "m@1")  # fmt: skip

    rows = [
        answered(3.0, "canary", flags=["refused:weapons"], finish_reason="refused"),
        answered(1.0, "champion"),
        answered(2.0, "canary", status=502, finish_reason=None),
        (
            0,
            0.0,
            60000.0,
            60000.0,
            None,
            [],
            False,
            0,
            "timeout",
            None,
            None,
            None,
            None,
            None,
            [],
            4.0,
            None,
        ),
    ]
    pq.write_table(table(rows), tmp_path / "results.parquet")
    written, skipped = write_observations(tmp_path / "results.parquet", tmp_path / "obs.jsonl")
    assert (written, skipped) == (3, 1)  # a timeout has no variant: it cannot be attributed
    records = list(read_observations(tmp_path / "obs.jsonl"))
    assert [r.ts for r in records] == [1.0, 2.0, 3.0]
    assert records[1].failed and records[1].finish_reason == "error"
    assert records[2].safety_flags == ["refused:weapons"] and records[2].cost_usd == 0.001


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"answer": "60 days", "finish_reason": "answer"}', None),
        (b'{"answer": "", "finish_reason": "error", "error": "boom"}', "finish_error"),
        (b'{"answer": "", "finish_reason": "deadline"}', "finish_deadline"),
        (b"[1, 2]", "body: a JSON list, not an object"),
        (b'"just a string"', "body: a JSON str, not an object"),
        (b"<html>oops</html>", "body: not JSON"),
    ],
)
def test_a_2xx_that_is_not_an_answer_is_a_counted_error(body, error):
    from raygate.loadtest.transport import _answer_error, _answer_fields, _json_object

    response = HttpResponse(200, {}, body)
    parsed, problem = _json_object(response)
    assert _answer_error(problem, _answer_fields(response, parsed)) == error


def test_outcomes_are_counted_by_status_and_finish_reason():
    def answered(status, reason):
        return (0, 0.0, 10.0, 10.0, None, [], status == 200, status, None, 1, 1, None,
                "canary", reason, [], 0.0, "m@2")  # fmt: skip

    rows = [answered(200, "answer"), answered(200, "answer"), answered(502, "error"),
            answered(504, "deadline")]  # fmt: skip
    summary = summarize(table(rows), duration_s=1.0)
    assert summary["outcomes"] == {"200 answer": 2, "502 error": 1, "504 deadline": 1}
    assert summary["model_ids_by_variant"] == {"canary": {"m@2": 4}}
    assert summary["error_rate"] == 0.5


def test_a_ramp_up_with_a_concurrency_is_refused():
    with pytest.raises(ValidationError, match="ramp-up shapes an open-loop rate"):
        ArrivalConfig(concurrency=4, duration_s=10, ramp_up_s=2)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"url": "ftp://x", "arrival": {"rate": 5, "duration_s": 1}}, "URL: String should match"),
        ({"url": "http://x", "protocol": "grpc", "arrival": {"rate": 5, "duration_s": 1}},
         "--protocol: Input should be"),
        ({"url": "http://x", "arrival": {"rate": 5, "duration_s": 1, "process": "bursty"}},
         "--arrival: Input should be"),
        ({"url": "http://x", "arrival": {"duration_s": 1}}, "give exactly one of rate"),
        ({"url": "http://x", "stream": True, "arrival": {"rate": 5, "duration_s": 1}},
         "--stream needs --protocol openai"),
    ],
)  # fmt: skip
def test_one_spec_names_the_option_at_fault(options, says):
    from raygate.loadtest.spec import load_test_spec

    with pytest.raises(ConfigError, match=says):
        load_test_spec(options, [])


def test_a_good_spec_keeps_its_slos_and_trims_the_url():
    from raygate.loadtest.spec import load_test_spec

    spec = load_test_spec(
        {"url": "http://127.0.0.1:8000/", "arrival": {"concurrency": 4, "duration_s": 2}},
        ["error_rate=0.01"],
    )
    assert spec.url == "http://127.0.0.1:8000" and spec.slos == {"error_rate": 0.01}
    assert not spec.arrival.open_loop
    arrival = {"rate": 1, "duration_s": 1}
    for openai_base_url in ("http://gw.example/team/v1", "http://gw.example/team/v1/"):
        spec = load_test_spec({"url": openai_base_url, "arrival": arrival}, [])
        assert spec.url == "http://gw.example/team"  # its requests go to …/team/v1/…


def test_requests_due_in_the_window_count_even_sent_late_and_falling_behind_is_said():
    def _send_accuracy(results: pa.Table, window_s: float) -> dict:
        figures = LoadAccumulator(window_s=window_s)
        figures.add(results)
        return figures.send_accuracy()

    def sent(scheduled_s, lag_ms):  # latency_ms includes the send lag; service_ms does not
        return (0, scheduled_s, 10.0 + lag_ms, 10.0, None, [], True, 200, None, 1, 1, None,
                "champion", "answer", [], 0.0, "m@1")  # fmt: skip

    on_time = table([sent(s / 10, 0.0) for s in range(20)])  # 2 s at 10 req/s
    late = table([sent(s / 10, 900.0 if s > 15 else 0.0) for s in range(20)])
    assert _send_accuracy(on_time, 2.0)["achieved_rate_rps"] == 10.0
    assert not _send_accuracy(on_time, 2.0)["fell_behind"]
    behind = _send_accuracy(late, 2.0)
    assert behind["achieved_rate_rps"] == 10.0  # the late ones still count
    assert behind["fell_behind"] and behind["send_overrun_s"] == pytest.approx(0.8)


def test_without_model_the_openai_protocol_asks_the_server_which_it_serves():
    import http.server

    from raygate.errors import LoadTestError
    from raygate.loadtest.transport import Target, served_model
    from raygate.testing import http_server, send_json

    seen = []

    class Models(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            send_json(self, 200, {"object": "list", "data": [{"id": "my-model"},
                                                              {"id": "my-model@3"}]})  # fmt: skip

        def log_message(self, *args):
            pass

    with http_server(Models) as url:
        assert served_model(Target(f"{url}/", token="tok")) == "my-model"
        assert seen == [("/v1/models", "Bearer tok")]
    with pytest.raises(LoadTestError, match="server is up, or pass --model NAME"):
        served_model(Target(url), timeout_s=2)  # nothing listens there any more


def test_the_openai_protocol_sends_a_workload_s_conversation_and_predict_its_last_query():
    from raygate.loadtest.http_client import HttpClient
    from raygate.loadtest.transport import Prompt, Sender, Target

    conversation = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"})
    prompt = Prompt("Hi", "user-1", conversation)
    for protocol, body in [
        ("openai", {"model": "m", "messages": list(conversation), "user": "user-1"}),
        ("predict", {"query": "Hi", "user_id": "user-1"}),
    ]:
        sender = Sender(Target("http://127.0.0.1:1", protocol=protocol, model="m"),
                        HttpClient("http://127.0.0.1:1", 1))  # fmt: skip
        assert json.loads(sender.prepare(prompt).split(b"\r\n\r\n", 1)[1]) == body


def test_a_kept_alive_connection_closed_as_it_is_reused_is_retried_not_a_failure():
    """A server closes an idle keep-alive connection on its own timer; a request sent on it in
    that instant gets no answer and was never processed: it goes again on a new connection.
    A connection that closes after part of an answer is a failure."""
    import asyncio

    from raygate.loadtest.http_client import HttpClient

    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
    requests_seen: list[int] = []

    async def serve(reader, writer):  # answers a connection's first request, closes on another
        connection = len(requests_seen)
        requests_seen.append(0)
        while await reader.readuntil(b"\r\n\r\n"):
            requests_seen[connection] += 1
            if requests_seen[connection] > 1:
                writer.write(answer[:12] if connection == 1 else b"")  # the second: half an answer
                writer.close()
                return
            writer.write(answer)
            await writer.drain()

    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        client = HttpClient(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", 1)
        request = client.request_bytes("GET", "/", b"", {})
        first = await client.send(request, 5)
        second = await client.send(request, 5)  # reused, closed unanswered: sent again
        with pytest.raises(ConnectionError):
            await client.send(request, 5)  # reused, closed half-answered: a failure
        client.close()
        server.close()
        return first.body, second.body

    assert asyncio.run(main()) == (b"ok", b"ok")
    assert requests_seen == [2, 2]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("2.5", 2.5), ("90s", 90.0), ("5m", 300.0), ("1h30m", 5400.0),
     ("1.5m", 90.0), ("500ms", 0.5), (" 10S ", 10.0)],
)  # fmt: skip
def test_durations_are_seconds_or_numbers_with_units(text, seconds):
    from raygate.cli.durations import at_least

    assert at_least(0.1)(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [("2x", "not a duration"), ("1h30", "not a duration"), ("m", "not a duration"),
     ("5 m", "not a duration"), ("inf", "not a duration"), ("nan", "not a duration"),
     ("0.05", "at least 0.1 s"), ("50ms", "at least 0.1 s")],
)  # fmt: skip
def test_a_duration_that_is_not_one_or_too_short_is_refused_naming_the_forms(text, message):
    import typer

    from raygate.cli.durations import at_least

    with pytest.raises(typer.BadParameter, match=message):
        at_least(0.1)(text)


def test_a_sharegpt_file_is_replayed_up_to_each_conversation_s_last_human_turn(tmp_path):
    """ShareGPT's files (vLLM's and guidellm's usual load-test data) are one JSON array of
    `conversations` of `from`/`value` turns; read without Ray (an array cannot stream)."""
    from raygate.loadtest.workload import load_workload

    def turn(speaker: str, text: str) -> dict:
        return {"from": speaker, "value": text}

    items = [
        {"id": "a", "conversations": [turn("human", "Return window?"), turn("gpt", "60 days."),
                                      turn("human", "And audio?"), turn("gpt", "30 days.")]},
        {"id": "b", "conversations": [turn("system", "Be brief."), turn("human", "Fee?")]},
        {"id": "c", "conversations": [turn("gpt", "Hello")]},  # no human turn: left out
        {"id": "d", "conversations": []},
    ]  # fmt: skip
    path = tmp_path / "sharegpt.json"
    path.write_text(json.dumps(items, indent=2))
    prompts = sorted(load_workload(str(path), None, users=0, seed=0), key=lambda p: p.query)
    assert [p.query for p in prompts] == ["And audio?", "Fee?"]
    assert [m["role"] for m in prompts[0].messages] == ["user", "assistant", "user"]
    assert prompts[1].messages[0] == {"role": "system", "content": "Be brief."}


def test_every_user_sends_requests_even_from_a_workload_of_fewer_prompts(tmp_path):
    """Sticky routing splits users, not requests: four prompts and 1000 users must be 1000
    users (as four, a 10 % canary could get none of them), each prompt asked as often."""
    from collections import Counter

    from raygate.loadtest.workload import load_workload

    path = tmp_path / "prompts.json"
    path.write_text(json.dumps([{"prompt": q} for q in ("a?", "b?", "c?", "d?")]))
    prompts = load_workload(str(path), None, users=1000, seed=0)
    assert len({p.user_id for p in prompts}) == 1000
    assert set(Counter(p.query for p in prompts).values()) == {250}
    assert len(load_workload(str(path), None, users=2, seed=0)) == 4  # enough prompts already
    assert {p.user_id for p in load_workload(str(path), None, users=0, seed=0)} == {None}


def test_a_json_array_of_prompts_is_read_and_an_item_without_one_is_named(tmp_path):
    from raygate.errors import LoadTestError
    from raygate.loadtest.workload import load_workload

    path = tmp_path / "prompts.json"
    path.write_text(json.dumps([{"prompt": "Why?"}, {"query": "How?"}]))
    assert sorted(p.query for p in load_workload(str(path), None, users=1, seed=0)) == [
        "How?",
        "Why?",
    ]
    path.write_text(json.dumps([{"prompt": "Why?"}, {"question": "How?"}]))
    with pytest.raises(LoadTestError, match="item 1 of the array has no 'query'"):
        load_workload(str(path), None, users=1, seed=0)
    path.write_text('[{"prompt": "Why?"},')
    with pytest.raises(LoadTestError, match="not valid JSON"):
        load_workload(str(path), None, users=1, seed=0)
