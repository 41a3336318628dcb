"""Prompt bundle: versioned templates with ids, their variables, and strict rendering."""

from __future__ import annotations

import string
from pathlib import Path

from pydantic import Field

from raygate.errors import PromptError
from raygate.schemas import StrictModel, load_yaml_model

BUILTIN_BUNDLE = Path(__file__).resolve().parent / "prompt_bundle.yaml"
# What the agent binds when it renders a template: the user's question, the packed documents.
BOUND_VARIABLES = frozenset({"question", "context"})


class PromptTemplate(StrictModel):
    """A system and a user template; `{name}` fields are variables."""

    id: str = Field(min_length=1, description="Template id.")
    version: int = Field(ge=1, description="Template version.")
    system: str = Field(description="System message template.")
    user: str = Field(description="User message template.")

    @property
    def prompt_id(self) -> str:
        return f"{self.id}@{self.version}"

    def variables(self) -> set[str]:
        """Names of every `{variable}` in the system and user templates."""
        names = set()
        for text in (self.system, self.user):
            try:
                names |= {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
            except ValueError as exc:  # e.g. a lone brace
                raise PromptError(
                    f"prompt {self.prompt_id}: {exc}; write a literal brace as {{{{ or }}}}"
                ) from None
        return names

    def check_bound(self) -> None:
        """Refuse a template whose variables the agent does not bind (before any build)."""
        unbound = sorted(self.variables() - BOUND_VARIABLES)
        if unbound:
            raise PromptError(
                f"prompt {self.prompt_id} uses {', '.join('{' + v + '}' for v in unbound)}, "
                f"which the agent does not fill (it binds {{question}} and {{context}}); "
                "write a literal brace as {{ or }}"
            )

    def render(self, **values: str) -> tuple[str, str]:
        """(system, user) with every variable bound; a missing one raises PromptError."""
        missing = self.variables() - values.keys()
        if missing:
            raise PromptError(
                f"prompt {self.prompt_id} needs variable(s) {', '.join(sorted(missing))}; "
                f"got {', '.join(sorted(values)) or 'none'}"
            )
        return self.system.format(**values), self.user.format(**values)


class PromptBundle(StrictModel):
    """All templates an agent may use, keyed by id@version."""

    templates: list[PromptTemplate] = Field(min_length=1, description="The templates.")

    def get(self, template_id: str, version: int) -> PromptTemplate:
        for template in self.templates:
            if template.id == template_id and template.version == version:
                return template
        known = ", ".join(t.prompt_id for t in self.templates)
        raise PromptError(
            f"prompt {template_id}@{version} is not in the bundle; known templates: {known}"
        )


def load_prompt_bundle(path: str | Path = BUILTIN_BUNDLE) -> PromptBundle:
    """Read and validate a prompt bundle YAML file."""
    return load_yaml_model(path, PromptBundle, PromptError, "pass a prompt bundle YAML file")
