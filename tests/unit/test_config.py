from pathlib import Path

import pytest

from raygate.config import load_agent_config
from raygate.errors import ConfigError

AGENTS = Path(__file__).resolve().parents[2] / "agents"

VALID = """\
name: test-agent
prompt: {id: grounded-answer, version: 1}
generator: {kind: extractive}
"""


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return path


def test_shipped_configs_load_and_differ():
    v1, v2 = (load_agent_config(AGENTS / f"v{i}.yaml") for i in (1, 2))
    assert v1.name == v2.name == "reference-agent"
    assert v1.content_hash() != v2.content_hash()


def test_defaults_fill_the_retriever(tmp_path):
    config = load_agent_config(write(tmp_path, VALID))
    assert config.retriever.k == 4 and config.corpus == "builtin" and config.seed == 0


def test_content_hash_ignores_yaml_formatting(tmp_path):
    a = load_agent_config(write(tmp_path, VALID))
    b = load_agent_config(
        write(tmp_path, VALID.replace("{kind: extractive}", "\n  kind: extractive"))
    )
    assert a.content_hash() == b.content_hash()


def test_relative_corpus_and_prompt_bundle_paths_are_resolved_against_the_config(tmp_path):
    text = VALID.replace("version: 1}", "version: 1, bundle: prompts/mine.yaml}")
    config = load_agent_config(write(tmp_path, text + "corpus: data/docs.jsonl\n"))
    assert config.corpus == str(tmp_path / "data" / "docs.jsonl")
    assert config.prompt.bundle == str(tmp_path / "prompts" / "mine.yaml")
    assert load_agent_config(write(tmp_path, VALID)).prompt.bundle == "builtin"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            VALID + "retriever: {k: 0}\n",
            r"field 'retriever.k': Input should be greater than or equal to 1 \(got 0\)",
        ),
        (
            VALID + "temperature: 0.2\n",
            r"field 'temperature': Extra inputs are not permitted; remove it",
        ),
        (VALID.replace("extractive", "gpt-9"), r"field 'generator': .*'extractive'"),
        ("name: x\ngenerator: {kind: extractive}\n", r"field 'prompt': Field required"),
        ("name: [unclosed\n", r"agent.yaml:\d+: not valid YAML"),
        ("- a list\n", r"expected a mapping of settings, got list"),
    ],
)
def test_malformed_config_gives_one_clear_error(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_agent_config(write(tmp_path, text))


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_agent_config(tmp_path / "nope.yaml")
