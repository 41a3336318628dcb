"""The extractive generator's plan → act → observe: a question that needs arithmetic goes
through `calculate`, one that needs a document the context lacks through `search_documents`,
and the answer is drawn from what the tools returned.

Plans come from the wording of the question, not from any gold set: an operation (a sum, a
difference, a multiple, a discount, a comparison) named by ordinary English cue words, its
operands found as "Field: value" facts of the documents whose titles the question names, and
a value the subject's own document lacks (a policy, a procedure) looked up by searching for
the asked field together with the subject's category and name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from raygate.agent.corpus import Document, Fact
from raygate.agent.generators.base import Generation, GenerationRequest
from raygate.agent.tools import ToolCall
from raygate.text import content_tokens

# Question words that name a field by another name.
FIELD_SYNONYMS = {
    "cost": "price", "costs": "price", "pay": "price", "expensive": "price", "cheaper": "price",
    "cheap": "price", "costlier": "price", "priced": "price", "heavier": "weight",
    "lighter": "weight", "heavy": "weight", "weigh": "weight", "weighs": "weight",
    "newer": "release", "older": "release", "released": "release", "bill": "price",
    "spend": "price",
}  # fmt: skip
_COMPARE = re.compile(
    r"\bwhich\b.*?\b(?P<word>heavier|lighter|cheaper|more\s+expensive|less\s+expensive|"
    r"costlier|newer|older|bigger|larger|smaller|costs?\s+(?:more|less)|weighs?\s+(?:more|less))"
    r"\b",
    re.IGNORECASE,
)
_LARGER = {"heavier", "more expensive", "costlier", "newer", "bigger", "larger", "cost more",
           "costs more", "weigh more", "weighs more"}  # fmt: skip
_DIFFERENCE = re.compile(
    r"\bhow\s+(?:much|many)\s+(?:more|less|heavier|lighter|cheaper|longer)\b|\bdifference\b",
    re.IGNORECASE,
)
_SUM = re.compile(r"\b(?:combined|together|altogether|sum|total)\b", re.IGNORECASE)
_TIMES = re.compile(r"\b\d+\s+(?:x\s+)?(?:units?|items?|pieces?|pcs|copies|of\b|\s*$)", re.I)
_COUNT = re.compile(r"(?<![\w.,$-])(?P<n>[1-9]\d{0,3})(?![\w.,%-])")
_DISCOUNT = re.compile(
    r"\b(?P<pct>\d+(?:\.\d+)?)\s*%\s*off\b|\bwith\s+(?:the\s+|a\s+|my\s+|our\s+)?"
    r"(?P<name>[a-z-]+(?:\s+[a-z-]+)?)\s+discount\b",
    re.IGNORECASE,
)
_QUANTITY = re.compile(r"^(?P<prefix>[$€£]?)(?P<number>\d[\d,]*(?:\.\d+)?)(?P<suffix>\s*\S.*)?$")
_BLOCK = re.compile(r"^\[(?P<id>[^\]\n]+)\]\n(?P<text>.*?)(?=\n\n\[|\Z)", re.S | re.M)
_CALC_RESULT = re.compile(r"^-?\d+(?:\.\d+)?(?:e[+-]?\d+)?$")


@dataclass(frozen=True)
class Quantity:
    """A number with the way it was written: '$1,299.00', '0.84 kg', '10%'."""

    value: float
    prefix: str
    suffix: str
    decimals: int

    def format(self, value: float) -> str:
        if self.prefix:  # money keeps its cents and groups its thousands
            return f"{self.prefix}{value:,.{max(self.decimals, 2)}f}"
        text = f"{value:.{max(self.decimals, 2)}f}".rstrip("0").rstrip(".")
        return f"{text}{self.suffix}"


def parse_quantity(text: str) -> Quantity | None:
    match = _QUANTITY.match(text.strip())
    if match is None:
        return None
    number = match["number"].replace(",", "")
    decimals = len(number.split(".")[1]) if "." in number else 0
    return Quantity(float(number), match["prefix"], match["suffix"] or "", decimals)


@dataclass(frozen=True)
class Step:
    """What the planner does now: call a tool, or answer."""

    call: ToolCall | None = None
    answer: str | None = None
    citations: tuple[str, ...] = ()


class ToolPlanner:
    """Decides the next step of one request from its question, documents and observations."""

    def __init__(
        self,
        subject_overlap: Callable[[set[str], str], float],
        min_subject_overlap: float,
        min_field_overlap: float,
    ) -> None:
        self._overlap = subject_overlap
        self._min_subject = min_subject_overlap
        self._min_field = min_field_overlap

    def next_step(self, request: GenerationRequest) -> Step | None:
        """The next step, or None when the question needs no plan (a plain lookup)."""
        tools = {tool["name"] for tool in request.tools}
        observed = _observed_documents(request.observations)
        documents = _unique((*request.documents, *observed))
        results = [o.strip() for o in request.observations if _CALC_RESULT.match(o.strip())]
        query = request.query
        words = set(content_tokens(query))
        subjects = self._subjects(query, words, documents)
        searches = sum(
            bool(_BLOCK.search(o)) or "no documents found" in o for o in request.observations
        )
        searched = searches > 0
        if not subjects and not searched and "search_documents" in tools and _needs_plan(query):
            return Step(call=ToolCall("search_documents", {"query": query}))
        if compare := _COMPARE.search(query):
            return self._compare(compare["word"].lower(), subjects, words, query, searched, tools)
        operation = _operation(query, subjects)
        if operation is not None:
            return self._arithmetic(
                operation, subjects, documents, words, query, searches, results, tools
            )
        if len(subjects) == 1:
            return self._second_document(subjects[0], words, query, documents, searched, tools)
        return None

    # --- the plans -------------------------------------------------------------------------

    def _compare(self, word, subjects, words, query, searched, tools) -> Step | None:
        if len(subjects) < 2:
            return self._search_for_second(subjects, query, searched, tools)
        cue = [w for w in word.split() if w not in ("more", "less")]
        field = FIELD_SYNONYMS.get(cue[-1], cue[-1]) if cue else word
        values = [self._value(doc, words | {field}) for doc in subjects[:2]]
        if any(v is None for v in values):
            return None
        larger = " ".join(word.split()) in _LARGER
        pick = max if larger else min
        chosen = pick(zip(values, subjects[:2], strict=True), key=lambda pair: pair[0].value)[1]
        return Step(answer=chosen.title, citations=tuple(d.id for d in subjects[:2]))

    def _arithmetic(self, operation, subjects, documents, words, query, searches, results, tools):
        kind, argument = operation
        searched = searches > 0
        # Only the named documents that hold the asked quantity are operands.
        valued = [(doc, q) for doc in subjects if (q := self._value(doc, words)) is not None]
        subjects = [doc for doc, _ in valued]
        if kind in ("sum", "difference") and len(valued) < 2:
            return self._search_for_second(subjects, query, searched, tools)
        if not valued:
            return self._search_for_second([], query, searched, tools)
        first = valued[0][1]
        citations = tuple(doc.id for doc in subjects[: 2 if kind in ("sum", "difference") else 1])
        if kind in ("sum", "difference"):
            second = valued[1][1]
            sign = "+" if kind == "sum" else "-"
            expression = f"{first.value:g} {sign} {second.value:g}"
        elif kind == "times":
            expression = f"{argument} * {first.value:g}"
        else:  # discount: argument is a percentage, or the name of a discount to look up
            percent, source = self._discount(argument, documents, searches, tools)
            if isinstance(percent, Step) or percent is None:
                return percent
            citations += source
            expression = f"{first.value:g} * (1 - {percent:g} / 100)"
        if not results:
            if "calculate" not in tools:
                return None
            return Step(call=ToolCall("calculate", {"expression": expression}))
        value = abs(float(results[-1])) if kind == "difference" else float(results[-1])
        return Step(answer=first.format(value), citations=citations)

    def _discount(self, argument, documents, searches, tools):
        """(percent, citing document ids), a search Step, or (None, ()); a second search is
        allowed when the first went to the product itself."""
        if isinstance(argument, float):
            return argument, ()
        wanted = set(content_tokens(argument)) | {"discount"}
        for doc in documents:
            for fact in doc.facts:
                quantity = parse_quantity(fact.value)
                field_words = set(content_tokens(fact.field))
                if quantity and quantity.suffix.strip() == "%" and wanted <= field_words:
                    return quantity.value, (doc.id,)
        if searches > 1 or "search_documents" not in tools:
            return None, ()
        return Step(call=ToolCall("search_documents", {"query": f"{argument} discount"})), ()

    def _second_document(self, subject, words, query, documents, searched, tools):
        """A value the subject's own document lacks: found in another document that the
        subject's category or name leads to."""
        asked = _asked_words(words, subject)
        unit = _asked_unit(query)
        if not asked or self._fact(subject, asked, unit) is not None:
            return None  # the subject's document answers it: a plain lookup
        for doc in documents:
            if doc.id == subject.id or not self._leads_to(subject, doc):
                continue
            fact = self._fact(doc, asked, unit)
            if fact is not None:
                return Step(answer=fact.value, citations=(subject.id, doc.id))
        if searched or "search_documents" not in tools:
            return None
        query = " ".join([*sorted(asked), _category(subject) or "", subject.title]).strip()
        return Step(call=ToolCall("search_documents", {"query": query}))

    # --- helpers ---------------------------------------------------------------------------

    def _subjects(self, query: str, words: set[str], documents) -> list[Document]:
        """Documents whose title the question names best, in the order it names them (a title
        named in full beats its siblings that share most of its words)."""
        scored = [(self._overlap(words, d.title), d) for d in documents]
        named = [(score, d) for score, d in scored if score >= self._min_subject]
        top = max((score for score, _ in named), default=0.0)
        named = [d for score, d in named if score == top]
        lowered = query.lower()

        def position(doc: Document) -> int:
            found = lowered.find(doc.title.lower())
            return found if found >= 0 else len(lowered)

        return sorted(named, key=position)

    def _search_for_second(self, subjects, query, searched, tools) -> Step | None:
        if searched or "search_documents" not in tools:
            return None
        rest = _without_titles(query, subjects)
        return Step(call=ToolCall("search_documents", {"query": " ".join(rest.split())}))

    def _value(self, doc: Document, words: set[str]) -> Quantity | None:
        fact = self._fact(doc, _asked_words(words, doc))
        return parse_quantity(fact.value) if fact else None

    def _fact(self, doc: Document, asked: set[str], unit: str | None = None) -> Fact | None:
        """The fact whose field the question names best; when the question asks "how many
        <unit>", only a value in that unit qualifies."""
        best, best_score = None, 0.0
        for fact in doc.facts:
            if unit and unit not in fact.value.lower():
                continue
            field_words = set(content_tokens(fact.field))
            if not field_words:
                continue
            score = len(field_words & asked) / len(field_words)
            if score >= self._min_field and score > best_score:
                best, best_score = fact, score
        return best

    @staticmethod
    def _leads_to(subject: Document, other: Document) -> bool:
        """Whether `other` is a document about the subject's category or kind of product (a
        policy, a procedure), not another product that happens to share a word of its name:
        its title names the category, or a word of the subject's name, and no model code."""
        other_title = content_tokens(other.title)
        if any(any(ch.isdigit() for ch in word) for word in other_title):
            return False  # another product (model codes carry digits)
        category = _category(subject)
        if category and set(content_tokens(category)) <= set(other_title):
            return True
        return bool(set(content_tokens(subject.title)) & set(other_title))


def _without_titles(query: str, documents: Sequence[Document]) -> str:
    """The question with the documents' titles taken out (what else it names or counts)."""
    for doc in documents:
        query = re.sub(re.escape(doc.title), " ", query, flags=re.IGNORECASE)
    return query


def _category(doc: Document) -> str | None:
    """A product's category (its 'Category:' fact), which its policies name."""
    return next((f.value for f in doc.facts if f.field.lower() == "category"), None)


def _needs_plan(query: str) -> bool:
    """Whether the wording asks for arithmetic or a comparison (worth a search when the
    context names no product)."""
    return bool(_COMPARE.search(query) or _DISCOUNT.search(query) or _DIFFERENCE.search(query)
                or _SUM.search(query) or _TIMES.search(query))  # fmt: skip


def _operation(query: str, subjects: Sequence[Document]) -> tuple[str, object] | None:
    """The arithmetic the question asks for, from its wording; a count is a whole number
    standing on its own outside the products' names ("3 units of", "for 4 of the")."""
    if match := _DISCOUNT.search(query):
        if match["pct"]:
            return "discount", float(match["pct"])
        return "discount", match["name"]
    if _DIFFERENCE.search(query):
        return "difference", None
    rest = _without_titles(query, subjects)
    count = _COUNT.search(rest)
    if (count and len(subjects) == 1 and _SUM.search(query)) or (count and _TIMES.search(rest)):
        return "times", int(count["n"])
    if _SUM.search(query):
        return "sum", None
    return None


_HOW_MANY = re.compile(r"\bhow\s+many\s+(?:[a-z]+\s+)?(?P<unit>[a-z]+)\b", re.IGNORECASE)
_UNITS = frozenset({"days", "hours", "minutes", "seconds", "weeks", "months", "years", "kg",
                    "grams", "watts", "litres", "liters", "percent"})  # fmt: skip


def _asked_unit(query: str) -> str | None:
    """The unit a "how many …" question asks for ("days" in "how many business days")."""
    match = _HOW_MANY.search(query)
    return match["unit"].lower() if match and match["unit"].lower() in _UNITS else None


def _asked_words(words: set[str], subject: Document) -> set[str]:
    """The question's words that are not the subject's name, field synonyms resolved."""
    asked = words - set(content_tokens(subject.title))
    return asked | {FIELD_SYNONYMS[w] for w in asked if w in FIELD_SYNONYMS}


def _observed_documents(observations: Sequence[str]) -> list[Document]:
    """Documents that search_documents / fetch_document returned ('[id]' then the text)."""
    documents = []
    for observation in observations:
        for match in _BLOCK.finditer(observation):
            text = match["text"].strip()
            title = text.splitlines()[0] if text else match["id"]
            documents.append(Document(match["id"], title, "observed", text))
    return documents


def _unique(documents: Sequence[Document]) -> list[Document]:
    seen, unique = set(), []
    for doc in documents:
        if doc.id not in seen:
            seen.add(doc.id)
            unique.append(doc)
    return unique


def plan_generation(step: Step, request: GenerationRequest, count: Callable[[str], int]):
    """A Generation for a planned step: a tool call, or the answer."""
    tokens_in = count(request.system) + count(request.user) + sum(map(count, request.observations))
    if step.call is not None:
        return Generation("", (), False, tokens_in, count(str(step.call.arguments)),
                          tool_calls=(step.call,))  # fmt: skip
    return Generation(step.answer or "", step.citations, False, tokens_in, count(step.answer or ""))
