import pytest

from raygate.evaluation.scorers import exact_match, hit_at_k, normalize_answer, token_f1


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
