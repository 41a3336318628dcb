"""Retrieval and grounding figures of one request, shared by the agent and the evaluation."""

from __future__ import annotations

from collections.abc import Sequence

from raygate.text import content_tokens


def hit_at_k(retrieved_ids: Sequence[str], relevant_ids: Sequence[str] | None) -> float | None:
    """1.0 when any relevant document was retrieved; None when the row has no gold documents."""
    if not relevant_ids:
        return None
    return float(bool(set(retrieved_ids) & set(relevant_ids)))


def context_precision(
    retrieved_ids: Sequence[str], relevant_ids: Sequence[str] | None
) -> float | None:
    """Ragas' context precision@K: mean of precision@k over the ranks k that hold a relevant id.

    1.0 when every relevant document ranks above every irrelevant one; None without gold ids
    or without retrieval.
    """
    if not relevant_ids or not retrieved_ids:
        return None
    relevant = set(relevant_ids)
    hits, weighted = 0, 0.0
    for rank, doc_id in enumerate(retrieved_ids, start=1):
        if doc_id in relevant:
            hits += 1
            weighted += hits / rank
    return weighted / hits if hits else 0.0


def context_use_rate(answer: str, context: str) -> float | None:
    """Share of the answer's content words that occur in the context the generator was given.

    Content words are raygate's tokens without stopwords ("$49.00", "k-210" and "30" count
    whole). 1.0 means every word of the answer can be found in the context (grounded, as
    extractive answers are); a low rate flags words the generator brought from elsewhere.
    None when the answer has no content words (empty, abstained or refused answers claim
    nothing) — a caller passes an empty answer for those.
    """
    answer_words = content_tokens(answer)
    if not answer_words:
        return None
    context_words = set(content_tokens(context))
    return sum(word in context_words for word in answer_words) / len(answer_words)
