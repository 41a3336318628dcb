"""Answer-quality scorers: pure functions of one prediction and its gold row (SQuAD-style
normalization, made Unicode-aware as MLQA's and KorQuAD's evaluation scripts do)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCTUATION = frozenset(string.punctuation)  # SQuAD drops $ % + too, not only P*
# Scripts written without spaces between words (Thai, Lao, Myanmar, Khmer, CJK, kana) and
# Hangul, whose particles attach to words: each character is one token.
_UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff"
    "\U00020000-\U0002ffff"
)
_TOKEN = re.compile(rf"[{_UNSPACED}]|[^\s{_UNSPACED}]+")


def normalize_answer(text: str) -> str:
    """NFKC, case-fold, drop punctuation (ASCII and Unicode) and English articles, collapse
    whitespace: SQuAD's normalization for any script."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(
        ch for ch in folded
        if ch not in _ASCII_PUNCTUATION and not unicodedata.category(ch).startswith("P")
    )  # fmt: skip
    return " ".join(_ARTICLES.sub(" ", kept).split())


def answer_tokens(text: str) -> list[str]:
    """The normalized answer's tokens: words, or single characters of unspaced scripts."""
    return _TOKEN.findall(normalize_answer(text))


def exact_match(prediction: str, expected: Sequence[str]) -> float:
    """1.0 when the normalized prediction equals any normalized acceptable answer."""
    predicted = answer_tokens(prediction)
    return float(any(predicted == answer_tokens(answer) for answer in expected))


def contains_match(prediction: str, expected: Sequence[str]) -> float:
    """1.0 when an acceptable answer appears in the prediction as a run of whole tokens
    ("It is $49.00." contains "$49.00"; "130 days" does not contain "30 days"). An answer
    that normalizes to nothing ("The.") must be matched exactly."""
    predicted = answer_tokens(prediction)
    for answer in expected:
        wanted = answer_tokens(answer)
        if not wanted:
            if not predicted:
                return 1.0
            continue
        width = len(wanted)
        if any(predicted[i : i + width] == wanted for i in range(len(predicted) - width + 1)):
            return 1.0
    return 0.0


def token_f1(prediction: str, expected: Sequence[str]) -> float:
    """Best token-overlap F1 between the prediction and any acceptable answer."""
    return max(_f1(answer_tokens(prediction), answer_tokens(a)) for a in expected)


def _f1(predicted: list[str], gold: list[str]) -> float:
    if not predicted or not gold:
        return float(predicted == gold)
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


# An abstention says the answer is not known or not in the sources (normalized: no
# articles, no apostrophes), as extractive agents and LLMs word it.
_ABSTAIN_PHRASES = (
    "i dont know", "i do not know", "im not sure", "i am not sure", "not in documents",
    "not in provided documents", "not in provided context", "not in context",
    "cannot find", "cant find", "could not find", "couldnt find", "unable to find",
    "no information", "do not have information", "dont have information",
    "do not have enough information", "dont have enough information",
    "does not contain information", "doesnt contain information",
    "do not contain information", "dont contain information",
    "does not mention", "doesnt mention", "do not mention", "dont mention", "not mentioned in",
    "no mention of", "not specified in", "unable to answer", "cannot answer", "cant answer",
)  # fmt: skip
# A refusal: someone declining (I can't, I won't, I'm unable to, …) to do what was asked
# (help, assist, provide, …); "I'm unable to find" is not one, it abstains.
_DECLINING = (
    "i cant", "i cannot", "i can not", "i wont", "i will not", "im not able to",
    "i am not able to", "im unable to", "i am unable to", "im not going to", "i am not going to",
)  # fmt: skip
_ASKED = ("help", "assist", "provide", "comply", "fulfill", "support", "do that", "share")
_REFUSAL_PHRASES = (
    *(f"{declining} {asked}" for declining in _DECLINING for asked in _ASKED),
    "i must decline", "i have to decline", "i decline to", "not able to help",
)  # fmt: skip


def is_abstention(answer: str) -> bool:
    """True when the answer says the sources do not hold the answer."""
    normalized = normalize_answer(answer)
    return any(phrase in normalized for phrase in _ABSTAIN_PHRASES)


def is_refusal(answer: str, refused: bool | None) -> bool:
    """True when the model flagged a refusal or its answer declines the request."""
    normalized = normalize_answer(answer)
    return bool(refused) or any(phrase in normalized for phrase in _REFUSAL_PHRASES)
