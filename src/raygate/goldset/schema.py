"""One gold-set line: a question, its acceptable answers, and optionally gold documents."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from raygate.schemas import StrictModel

# Categories raygate scores specially; any other category is kept as a label.
KNOWN_CATEGORIES = ("factual", "numeric", "multi_hop", "unanswerable", "pii", "disallowed")
# The id of a row that has none: this prefix and a hash of its query and expected answers.
CONTENT_ID_PREFIX = "q-"


def category_label(text: str) -> str:
    """A category as metrics are keyed by it: case-folded, every run of spaces and punctuation
    one `_` ("Tech Support" → tech_support, "multi-hop" → multi_hop); it starts with a letter."""
    label = re.sub(r"[\W_]+", "_", text.casefold()).strip("_")
    if not label[:1].isalpha():
        raise ValueError(f"{text!r} is not a category: name it with a word, e.g. 'billing'")
    return label


class GoldRow(StrictModel):
    """A gold example; unknown keys are errors (put free-form data under `metadata`). A
    number where text is expected (an id, an answer) is taken as its text: 42 → "42"."""

    model_config = StrictModel.model_config | ConfigDict(coerce_numbers_to_str=True)

    id: str | None = Field(
        None,
        min_length=1,
        description="Unique id of the example within its gold set; without one, an id made "
        "from its query and expected answers (`q-…`), the same wherever the row is read.",
    )
    query: str = Field(min_length=1, description="The question sent to the model as `query`.")
    expected: list[str] = Field(
        min_length=1, description="Acceptable answers; a single string is taken as a list of one."
    )
    match: Literal["contains", "exact"] | None = Field(
        None,
        description="How an answer is judged correct: `contains` (the default) when one of the "
        "expected answers appears in it as whole words, `exact` when it is one of them; both "
        "after normalization (case, punctuation, articles).",
    )
    relevant_ids: list[str] | None = Field(
        None, description="Ids of documents that hold the answer (for hit@k, context precision)."
    )
    category: str | None = Field(
        None,
        description="A label, as metrics name it: lower case, words joined by _ (`Tech "
        f"Support` reads as tech_support); scored specially if one of "
        f"{', '.join(KNOWN_CATEGORIES)}.",
    )
    metadata: dict[str, Any] | None = Field(None, description="Free-form data, kept as is.")

    @model_validator(mode="after")
    def _an_id_from_the_content(self) -> GoldRow:
        if self.id is not None:
            return self
        said = json.dumps([self.query, self.expected], ensure_ascii=False)
        digest = hashlib.sha256(said.encode("utf-8")).hexdigest()[:12]
        return self.model_copy(update={"id": CONTENT_ID_PREFIX + digest})

    @field_validator("query")
    @classmethod
    def _query_says_something(cls, query: str) -> str:
        if not query.strip():
            raise ValueError("the query is blank; write the question the model is asked")
        return query

    @field_validator("category", mode="before")
    @classmethod
    def _category_label(cls, value: Any) -> Any:
        return category_label(value) if isinstance(value, str) else value

    @field_validator("expected", mode="before")
    @classmethod
    def _one_answer_is_a_list(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | float | list):
            raise ValueError("expected is an answer (text or a number) or a list of them")
        return value if isinstance(value, list) else [value]
