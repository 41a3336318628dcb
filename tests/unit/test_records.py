import json
import os
import time
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from raygate.cli.main import app
from raygate.telemetry.metrics import _RULE_SHAPE, BoundedLabel
from raygate.telemetry.records import RecordWriter, RequestRecord, build_record, keyed_hash, prune

KEY = b"k" * 32
PREDICTION = {
    "trace_id": "a" * 32, "model_id": "m@3", "prompt_id": "p@1", "finish_reason": "answer",
    "latency_ms_total": 12.5, "latency_ms_llm": 7.0, "tokens_in": 100, "tokens_out": 9,
    "tokens_cached": None, "cost_usd": None, "safety_flags": ["pii_redacted_input:email"],
    "error": None, "answer": "secret answer text", "query": "secret question",
}  # fmt: skip


def test_a_record_holds_figures_and_keyed_hashes_never_ids_or_content():
    caller = {"request_id": "r-1", "user_id": "alice@example.com", "session_id": None}
    record = build_record(PREDICTION, source="serve", variant="canary", status=200, key=KEY,
                          caller=caller, latency_ms=20.0)  # fmt: skip
    dumped = record.model_dump_json()
    assert "alice" not in dumped and "secret" not in dumped and "r-1" not in dumped
    assert (
        record.user == keyed_hash("alice@example.com", KEY) != keyed_hash("alice@example.com", b"x")
    )
    assert record.session is None and record.cost_usd is None  # unpriced: missing, not 0
    assert record.tokens_in == 100 and record.latency_ms_llm == 7.0
    assert RequestRecord.model_validate_json(dumped) == record


def test_a_records_error_is_redacted_and_cut():
    prediction = {**PREDICTION, "error": "ValueError: no order for bob@example.com " + "x" * 500}
    record = build_record(prediction, source="eval", variant="eval", status=500, key=KEY,
                          caller={}, latency_ms=None)  # fmt: skip
    assert "bob@" not in record.error and "[EMAIL]" in record.error and len(record.error) == 300


def test_records_append_to_hourly_files_and_old_files_are_pruned(tmp_path):
    old = tmp_path / "requests-20200101-00.jsonl"
    old.write_text("{}\n")
    os.utime(old, (time.time() - 40 * 86400,) * 2)
    writer = RecordWriter(tmp_path, retention_days=30)
    record = build_record(PREDICTION, source="serve", variant="champion", status=200, key=KEY,
                          caller={}, latency_ms=1.0)  # fmt: skip
    writer.write(record)
    writer.write(record)
    (current,) = tmp_path.glob("requests-*.jsonl")
    assert not old.exists() and len(current.read_text().splitlines()) == 2
    assert prune(tmp_path, timedelta(days=30)) == []


def test_metric_labels_stay_bounded():
    rules = BoundedLabel(_RULE_SHAPE, limit=2)
    assert rules("refused:weapons") == "refused:weapons"
    assert rules("Contains user@example.com") == "other"
    assert rules("refused:drugs") == "refused:drugs"
    assert rules("refused:third") == "other"


def _span(name, span_id, parent, start, end, **attributes):
    return {"trace_id": "b" * 32, "span_id": span_id, "parent_span_id": parent, "name": name,
            "service": "raygate-x", "start_ns": start, "end_ns": end, "status": "UNSET",
            "attributes": attributes}  # fmt: skip


def test_trace_show_draws_the_waterfall_and_prune_removes_old_files(tmp_path):
    traces = tmp_path / "traces"
    traces.mkdir()
    spans = [
        _span(
            "chat m", "3" * 16, "1" * 16, 2_000_000, 9_000_000, **{"gen_ai.usage.output_tokens": 7}
        ),
        _span("invoke_agent a", "1" * 16, None, 0, 10_000_000),
        _span("retrieval bm25", "2" * 16, "1" * 16, 1_000_000, 2_000_000),
    ]
    (traces / "spans-20260101.jsonl").write_text("".join(json.dumps(s) + "\n" for s in spans))
    runner = CliRunner()
    result = runner.invoke(app, ["trace", "show", "b" * 12, "--dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["name"], r["depth"]) for r in rows] == [
        ("invoke_agent a", 0), ("retrieval bm25", 1), ("chat m", 1)
    ]  # fmt: skip
    assert rows[2]["duration_ms"] == 7.0 and rows[2]["start_ms"] == 2.0
    missing = runner.invoke(app, ["trace", "show", "c" * 32, "--dir", str(tmp_path)])
    assert missing.exit_code == 2 and "no spans of trace" in missing.output

    os.utime(traces / "spans-20260101.jsonl", (time.time() - 3 * 3600,) * 2)
    kept = runner.invoke(app, ["telemetry", "prune", "--older-than", "4h", "--dir", str(tmp_path)])
    assert kept.exit_code == 0 and "removed 0 file(s)" in kept.output
    gone = runner.invoke(app, ["telemetry", "prune", "--older-than", "2h", "--dir", str(tmp_path)])
    assert "removed 1 file(s)" in gone.output and not list(traces.iterdir())


@pytest.mark.parametrize("age", ["3x", "d", "-1d", ""])
def test_prune_rejects_an_age_it_cannot_read(age, tmp_path):
    result = CliRunner().invoke(
        app, ["telemetry", "prune", "--older-than", age, "--dir", str(tmp_path)]
    )
    assert result.exit_code == 2 and "use a number and a unit" in result.output


def test_trace_list_finds_the_newest_the_slowest_and_the_failed_requests(tmp_path):
    """Records written by the writer, read back: filters, order, limit; a figure nobody
    measured is '-' (never 0), and a line cut mid-write is skipped and reported."""
    writer = RecordWriter(tmp_path / "records", retention_days=30)
    rows = [("champion", 200, "answer", 40.0, "m@1"), ("canary", 200, "answer", 900.0, "m@2"),
            ("canary", 502, "error", 15.0, "m@2"), ("champion", 200, "answer", None, "m@1"),
            ("canary", 200, "deadline", 30_000.0, "m@2")]  # fmt: skip
    for n, (variant, status, finish, latency, model) in enumerate(rows):
        prediction = {**PREDICTION, "trace_id": f"{n:032x}", "finish_reason": finish,
                      "model_id": model}  # fmt: skip
        writer.write(build_record(prediction, source="serve", variant=variant, status=status,
                                  key=KEY, caller={}, latency_ms=latency))  # fmt: skip
        time.sleep(0.01)  # distinct finish times
    (current,) = (tmp_path / "records").glob("*.jsonl")
    for run_id in ("run-a", "run-b"):  # an eval's rows, written by another writer
        eval_writer = RecordWriter(tmp_path / "records", prefix=f"eval-{run_id}")
        eval_writer.write(build_record({**PREDICTION, "trace_id": f"e{run_id[-1]}".ljust(32, "0")},
                                       source="eval", variant="eval", status=200, key=KEY,
                                       caller={}, latency_ms=5.0, run_id=run_id))  # fmt: skip
        time.sleep(0.01)
    with current.open("a") as handle:
        handle.write('{"ts": 1, "variant": "cham')  # a writer killed mid-line

    def listed(*options: str) -> dict:
        result = CliRunner().invoke(app, ["trace", "list", "--dir", str(tmp_path), "--json",
                                          *options])  # fmt: skip
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def traces(found: dict) -> list[int]:
        return [int(r["trace_id"], 16) for r in found["records"]]

    everything = listed()
    assert everything["matched"] == 7  # five served requests, two eval rows (written last)
    assert [r["trace_id"][:2] for r in everything["records"][:2]] == ["eb", "ea"]
    assert traces({"records": everything["records"][2:]}) == [4, 3, 2, 1, 0]
    assert [r["trace_id"][:2] for r in listed("--run", "run-b")["records"]] == ["eb"]
    assert everything["unreadable_lines"] == [f"{current}:6"]
    assert traces(listed("--slowest", "--limit", "2")) == [4, 1]
    assert traces(listed("--failed")) == [4, 2]  # a 502, and a 200 that hit its deadline
    assert traces(listed("--variant", "champion", "--model", "m")) == [3, 0]
    assert traces(listed("--model", "m@2", "--since", "1h")) == [4, 2, 1]
    table = CliRunner().invoke(app, ["trace", "list", "--dir", str(tmp_path), "--variant",
                                     "champion", "--slowest"])  # fmt: skip
    assert f"{0:032x}" in table.stdout and "40.0" in table.stdout
    assert table.stdout.split(f"{3:032x}")[1].split()[2] == "-"  # latency: missing, not 0
    assert "1 unreadable line(s) skipped" in table.stdout
    records_itself = listed("--dir", str(tmp_path / "records"))  # the folder named directly
    assert records_itself["matched"] == 7
    empty = CliRunner().invoke(app, ["trace", "list", "--dir", str(tmp_path / "none")])
    assert empty.exit_code == 2 and "no request records in" in empty.output
    assert "the shell that ran `raygate serve up`" in " ".join(empty.output.split())
