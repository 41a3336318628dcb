"""Word tokenization shared by retrieval, the extractive generator and the scorers."""

import re

# Words, numbers, prices and model codes ("k-210", "$49.00", "1.7") stay whole.
_TOKEN = re.compile(r"\$?[a-z0-9]+(?:[.\-/][a-z0-9]+)*")

STOPWORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "the",
        "their",
        "there",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "tell",
        "about",
        "much",
        "many",
        "long",
    )
)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens, stopwords kept (token counts)."""
    return _TOKEN.findall(text.lower())


def content_tokens(text: str) -> list[str]:
    """Lower-cased tokens without stopwords (matching and retrieval)."""
    return [t for t in tokenize(text) if t not in STOPWORDS]
