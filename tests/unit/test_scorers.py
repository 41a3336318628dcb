import pytest

from raygate.evaluation.scorers import (
    exact_match,
    is_abstention,
    is_refusal,
    normalize_answer,
    token_f1,
)
from raygate.rag_metrics import context_precision, context_use_rate, hit_at_k


def test_normalization_drops_case_punctuation_and_articles():
    assert normalize_answer("  The  Price: $49.00! ") == "price 4900"


@pytest.mark.parametrize(
    ("prediction", "expected", "score"),
    [
        ("$49.00", ["$49.00"], 1.0),
        ("49.00", ["$49.00"], 1.0),
        ("I don't know", ["I don't know."], 1.0),
        ("$49.01", ["$49.00"], 0.0),
        ("30 days", ["14 days", "30 days"], 1.0),
    ],
)
def test_exact_match_takes_the_best_acceptable_answer(prediction, expected, score):
    assert exact_match(prediction, expected) == score


def test_token_f1_hand_computed():
    # prediction {30, business, days} vs gold {30, days}: precision 2/3, recall 1 → F1 0.8
    assert token_f1("30 business days", ["30 days"]) == pytest.approx(0.8)
    assert token_f1("nothing in common", ["30 days"]) == 0.0
    assert token_f1("", [""]) == 1.0


def test_hit_at_k():
    assert hit_at_k(["a", "b"], ["b", "c"]) == 1.0
    assert hit_at_k(["a"], ["c"]) == 0.0
    assert hit_at_k(["a"], None) is None and hit_at_k(["a"], []) is None


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("I don't know.", True),
        ("Sorry, I do not know that.", True),
        ("That is not in the provided documents.", True),
        ("30 days", False),
    ],
)
def test_abstention(answer, expected):
    assert is_abstention(answer) is expected


def test_refusal_by_flag_or_by_words():
    assert is_refusal("", refused=True)
    assert is_refusal("I can't help with that request.", refused=None)
    assert not is_refusal("Here is how to do it", refused=False)


def test_context_precision_hand_computed():
    # relevant at ranks 1 and 3: (1/1 + 2/3) / 2
    assert context_precision(["a", "x", "b"], ["a", "b"]) == pytest.approx((1 + 2 / 3) / 2)
    assert context_precision(["x", "a"], ["a"]) == pytest.approx(0.5)
    assert context_precision(["x"], ["a"]) == 0.0
    assert context_precision([], ["a"]) is None and context_precision(["a"], None) is None


def test_context_use_rate_counts_answer_words_found_in_the_context():
    context = "[prod-k210]\nPrice: $49.00\nWarranty: 2 years"
    assert context_use_rate("$49.00", context) == 1.0
    assert context_use_rate("$49.00 plus 3 months", context) == pytest.approx(1 / 4)
    assert context_use_rate("", context) is None
    assert context_use_rate("the", context) is None  # stopwords only: no content claimed
