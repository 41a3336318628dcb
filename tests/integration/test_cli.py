import json
from pathlib import Path

import mlflow
import pytest
from typer.testing import CliRunner

from raygate.cli.main import app

AGENTS = Path(__file__).resolve().parents[2] / "agents"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def run_json(*args: str):
    result = run(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def assert_one_line_error(result, *fragments: str):
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def count_runs() -> int:
    return len(mlflow.search_runs(search_all_experiments=True))


@pytest.fixture
def champion(raygate_home, model_name):
    built = run_json(
        "agent", "build", AGENTS / "v1.yaml", "--register", model_name, "--alias", "champion"
    )
    assert built["registered"] == {"name": model_name, "version": 1, "model_id": f"{model_name}@1"}
    assert built["alias"] == {"alias": "champion", "version": 1, "previous": None}
    return model_name


def test_build_predict_promote_and_roll_back(champion):
    run_json("agent", "build", AGENTS / "v2.yaml", "--register", champion)
    answer = run_json(
        "predict", f"models:/{champion}@champion", "What is the return window for Kitchen products?"
    )
    (row,) = answer["predictions"]
    assert row["model_id"] == f"{champion}@1" and row["citations"] == ["pol-return-kitchen"]
    moved = run_json("registry", "alias", champion, "champion", "2", "--reason", "v2 passed gates")
    assert (moved["action"], moved["previous"], moved["version"]) == ("set", 1, 2)
    back = run_json("registry", "rollback", champion)
    assert (back["action"], back["version"]) == ("rollback", 1)
    assert run_json("registry", "rollback", champion)["action"] == "noop"
    shown = run_json("registry", "show", champion)
    assert shown["aliases"] == {"champion": 1}
    assert [e["action"] for e in shown["alias_history"]["champion"]] == ["set", "set", "rollback"]


def test_human_output_of_predict_and_show(champion):
    result = run(
        "predict",
        f"models:/{champion}@champion",
        "What is the express fee for shipping to Germany?",
    )
    assert result.exit_code == 0 and "A: $" in result.stdout and f"{champion}@1" in result.stdout
    shown = run("registry", "show", champion)
    assert shown.exit_code == 0 and "champion: v1" in shown.stdout


def test_unknown_alias_names_the_aliases_that_exist(champion):
    result = run("predict", f"models:/{champion}@canary", "hi")
    assert_one_line_error(result, "no alias 'canary'", "champion→v1", "raygate registry alias")


def test_unknown_model(raygate_home):
    assert_one_line_error(
        run("registry", "show", "no-such-model"), "no registered model named 'no-such-model'"
    )


def test_bad_config_writes_nothing(raygate_home, tmp_path, model_name):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nprompt: {id: grounded-answer, version: 1}\n"
        "generator: {kind: extractive}\nretriever: {k: -1}\n"
    )
    before = count_runs()
    assert_one_line_error(
        run("agent", "build", bad, "--register", model_name), "retriever.k", "bad.yaml"
    )
    unknown_prompt = tmp_path / "prompt.yaml"
    unknown_prompt.write_text(
        "name: x\nprompt: {id: grounded-answer, version: 7}\ngenerator: {kind: extractive}\n"
    )
    assert_one_line_error(
        run("agent", "build", unknown_prompt, "--register", model_name), "grounded-answer@7"
    )
    assert count_runs() == before
    assert_one_line_error(run("registry", "show", model_name), "no registered model")


def test_bad_version_and_rollback_without_history(champion):
    assert_one_line_error(
        run("registry", "alias", champion, "champion", "9"), "has no version 9; versions: v1"
    )
    assert_one_line_error(run("registry", "rollback", champion), "first version")


def test_goldset_show(tmp_path):
    info = run_json("goldset", "show", "smoke")
    assert info["rows"] == 30 and info["content_hash"].startswith("sha256:")
    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"id": "a", "query": "q", "expected": "x"}\n{"id": "b", "query": "q"}\n')
    assert_one_line_error(run("goldset", "show", bad), "gold.jsonl:2", "field 'expected'")
