"""Answer-quality scorers: pure functions of one prediction and its gold row (SQuAD-style)."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and articles, collapse whitespace (SQuAD's normalization)."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(text.split())


def exact_match(prediction: str, expected: Sequence[str]) -> float:
    """1.0 when the normalized prediction equals any normalized acceptable answer."""
    normalized = normalize_answer(prediction)
    return float(any(normalized == normalize_answer(answer) for answer in expected))


def token_f1(prediction: str, expected: Sequence[str]) -> float:
    """Best token-overlap F1 between the prediction and any acceptable answer."""
    return max(
        _f1(normalize_answer(prediction).split(), normalize_answer(a).split()) for a in expected
    )


def _f1(predicted: list[str], gold: list[str]) -> float:
    if not predicted or not gold:
        return float(predicted == gold)
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


_ABSTAIN_PHRASES = (
    "i dont know", "i do not know", "not in documents", "not in provided documents",
    "cannot find", "cant find", "no information", "do not have information",
    "dont have information", "unable to answer", "cannot answer",
)  # fmt: skip
_REFUSAL_PHRASES = (
    "i cant help", "i cannot help", "i cant assist", "i cannot assist", "i wont help",
    "i will not help", "i cant do that", "i cannot do that", "not able to help",
    "cant help with that", "cannot help with that", "i must decline", "i cant provide",
)  # fmt: skip


def is_abstention(answer: str) -> bool:
    """True when the answer says the sources do not hold the answer."""
    normalized = normalize_answer(answer)
    return any(phrase in normalized for phrase in _ABSTAIN_PHRASES)


def is_refusal(answer: str, refused: bool | None) -> bool:
    """True when the model flagged a refusal or its answer declines the request."""
    normalized = normalize_answer(answer)
    return bool(refused) or any(phrase in normalized for phrase in _REFUSAL_PHRASES)
