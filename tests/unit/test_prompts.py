import pytest

from raygate.agent.prompts import PromptTemplate, load_prompt_bundle
from raygate.errors import PromptError


def test_builtin_bundle_templates_bind_question_and_context():
    for template in load_prompt_bundle().templates:
        assert template.variables() == {"question", "context"}
        system, user = template.render(question="Q?", context="[d1]\nfact")
        assert "Q?" in user and "[d1]" in user and "{" not in system + user


def test_unbound_variable_is_named():
    template = PromptTemplate(id="t", version=1, system="You are {persona}.", user="{question}")
    with pytest.raises(PromptError, match=r"t@1 needs variable\(s\) persona; got question"):
        template.render(question="hi")


def test_unknown_template_lists_the_known_ones():
    with pytest.raises(
        PromptError,
        match=r"grounded-answer@9 is not in the bundle; known templates: grounded-answer@1",
    ):
        load_prompt_bundle().get("grounded-answer", 9)


@pytest.mark.parametrize(
    ("system", "message"),
    [
        ("You serve {customer}.", r"acme@1 uses \{customer\}, which the agent does not fill"),
        ('Reply as JSON like {"answer": 1}', r'uses \{"answer"\}.* literal brace as \{\{'),
        ("A lone { brace", r"acme@1: expected '\}' before end of string; write a literal brace"),
    ],
)
def test_a_template_the_agent_cannot_fill_is_refused_saying_what_to_write(system, message):
    template = PromptTemplate(id="acme", version=1, system=system, user="{context} {question}")
    with pytest.raises(PromptError, match=message):
        template.check_bound()
    PromptTemplate(
        id="ok", version=1, system='JSON like {{"a": 1}}', user="{question}"
    ).check_bound()


def test_an_agent_with_its_own_corpus_and_prompt_bundle_builds_with_only_its_template(tmp_path):
    import yaml

    from raygate.config import load_agent_config
    from raygate.packaging.build import stage_artifacts

    (tmp_path / "prompts.yaml").write_text(yaml.safe_dump({"templates": [
        {"id": "acme", "version": 1, "system": "ACME help.", "user": "{context} Q: {question}"},
        {"id": "draft", "version": 1, "system": "{persona}", "user": "{question}"},
    ]}))  # fmt: skip
    (tmp_path / "docs.jsonl").write_text(
        '{"id": "kb-1", "title": "Rocket Skates", "kind": "product", "text": "Price: $99.00"}\n'
    )
    (tmp_path / "agent.yaml").write_text(
        "name: acme\nprompt: {id: acme, version: 1, bundle: prompts.yaml}\n"
        "generator: {kind: extractive}\ncorpus: docs.jsonl\n"
    )
    paths, tags = stage_artifacts(load_agent_config(tmp_path / "agent.yaml"), tmp_path)
    logged = load_prompt_bundle(paths["prompt_bundle"])
    assert [t.prompt_id for t in logged.templates] == ["acme@1"] and tags["raygate.prompt_id"] == (
        "acme@1"
    )
