import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from raygate.config import load_agent_config
from raygate.errors import InputError
from raygate.goldset import load_goldset
from raygate.packaging.build import log_agent_model
from raygate.packaging.loading import load_agent

AGENTS = Path(__file__).resolve().parents[2] / "agents"

# Outputs that legitimately differ between two runs of the same model.
# cost_usd: priced by compute time (cpu-2vcpu), so it varies with the call like latency.
PER_CALL = ["request_id", "trace_id", "latency_ms_total", "latency_ms_llm", "model_id", "cost_usd"]

FRESH_PROCESS = """
import json, sys
from raygate.packaging.loading import load_agent
from raygate.registry.mlflow_registry import MlflowRegistry
loaded = load_agent(sys.argv[1], MlflowRegistry())
out = loaded.predict([{"query": q} for q in sys.argv[2:]])
print(json.dumps(out.to_dict(orient="records")))
"""


def smoke_queries() -> list[dict]:
    return [{"query": row.query, "request_id": row.id} for row in load_goldset("smoke").rows]


def test_loads_by_alias_in_a_fresh_process_from_artifacts_only(registry, model_name, tmp_path):
    corpus = tmp_path / "private" / "docs.jsonl"
    corpus.parent.mkdir()
    corpus.write_text(
        json.dumps(
            {"id": "doc-1", "title": "Zeta Widget Z-1", "text": "Zeta Widget Z-1\nPrice: $7.25"}
        )
        + "\n"
    )
    config_file = tmp_path / "private" / "agent.yaml"
    config_file.write_text(
        "name: private-agent\nprompt: {id: grounded-answer, version: 2}\n"
        "generator: {kind: extractive}\ncorpus: docs.jsonl\n"
    )
    built = log_agent_model(load_agent_config(config_file))
    version = registry.register(model_name, built.model_uri, built.tags)
    registry.set_alias(model_name, "champion", version.version)
    for path in corpus.parent.iterdir():  # the model must not need its source files
        path.unlink()
    corpus.parent.rmdir()
    env = {**os.environ, "PYTHONPATH": ""}
    query = "What is the price of the Zeta Widget Z-1?"
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, f"models:/{model_name}@champion", query],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["answer"] == "$7.25" and row["citations"] == ["doc-1"]
    assert row["model_id"] == f"{model_name}@1" and row["prompt_id"] == "grounded-answer@2"


def test_identical_config_and_seed_give_identical_outputs(registry, built_v1, model_name):
    again = log_agent_model(load_agent_config(AGENTS / "v1.yaml"))
    assert again.tags == built_v1.tags
    first = load_agent(built_v1.model_uri, registry).predict(smoke_queries())
    second = load_agent(again.model_uri, registry).predict(smoke_queries())
    pd.testing.assert_frame_equal(first.drop(columns=PER_CALL), second.drop(columns=PER_CALL))
    assert list(first["request_id"]) == [q["request_id"] for q in smoke_queries()]


def test_dataframe_and_list_of_dicts_give_the_same_answers(registry, built_v1):
    loaded = load_agent(built_v1.model_uri, registry)
    queries = smoke_queries()
    from_list = loaded.predict(queries)
    from_frame = loaded.predict(pd.DataFrame(queries))
    pd.testing.assert_frame_equal(
        from_list.drop(columns=PER_CALL), from_frame.drop(columns=PER_CALL)
    )


def test_pyfunc_predicts_a_batch_with_mixed_optional_fields(registry, built_v1):
    loaded = load_agent(built_v1.model_uri, registry)
    rows = [
        {"query": "What is the return window for Kitchen products?", "user_id": "u1"},
        {"query": "Hi"},
    ]
    out = loaded.predict(rows)
    assert len(out) == 2 and out["error"].isna().all()
    assert out.loc[0, "answer"] != "" and out.loc[0, "model_id"] == "reference-agent@unregistered"


def test_prediction_without_query_is_a_clear_error(registry, built_v1):
    loaded = load_agent(built_v1.model_uri, registry)
    with pytest.raises(InputError, match="no 'query' column"):
        loaded.predict(pd.DataFrame({"question": ["hi"]}))


def test_hybrid_agent_ships_its_embeddings_and_reports_retrieval_figures(registry):
    built = log_agent_model(load_agent_config(AGENTS / "v3.yaml"))
    loaded = load_agent(built.model_uri, registry)
    out = loaded.predict(
        [
            {
                "query": "What is the return window for Kitchen products?",
                "relevant_ids": ["pol-return-kitchen"],
            },
            {"query": "Can I send back a blender I bought?"},
        ]
    )
    assert out["error"].isna().all()
    assert out.loc[0, "retrieved_ids"][0] == "pol-return-kitchen"
    assert out.loc[0, "hit_at_k"] == 1.0 and out.loc[0, "context_precision"] == 1.0
    assert out.loc[0, "context_use_rate"] == 1.0
    assert pd.isna(out.loc[1, "hit_at_k"]) and len(out.loc[1, "retrieved_ids"]) == 4
