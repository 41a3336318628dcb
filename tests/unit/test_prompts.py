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
