import pytest

from raygate.evaluation.rows import is_correct
from raygate.evaluation.scorers import (
    answer_tokens,
    contains_match,
    exact_match,
    is_abstention,
    is_refusal,
    normalize_answer,
    token_f1,
)
from raygate.goldset import GoldRow
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


@pytest.mark.parametrize(
    ("prediction", "expected", "score"),
    [
        ("It costs $49.00.", ["$49.00"], 1.0),  # a sentence around the answer
        ("The window is 30 days from delivery.", ["14 days", "30 days"], 1.0),
        ("130 days", ["30 days"], 0.0),  # whole words only
        ("30 business days", ["30 days"], 0.0),  # adjacent, in order
        ("Sand beige", ["sand BEIGE"], 1.0),
        ("Nothing.", ["The"], 0.0),  # an answer that normalizes to nothing matches only nothing
        ("", ["The"], 1.0),
    ],
)
def test_contains_match_finds_an_acceptable_answer_as_whole_words(prediction, expected, score):
    assert contains_match(prediction, expected) == score


def test_normalization_holds_for_any_script():
    assert normalize_answer("¿Dónde está?") == "dónde está"  # Unicode punctuation dropped
    assert normalize_answer("I don’t know.") == "i dont know"  # typographic apostrophe
    assert exact_match("ＳＴＲＡＳＳＥ", ["Straße"]) == 1.0  # NFKC, then case folding
    assert answer_tokens("首都は東京です。") == ["首", "都", "は", "東", "京", "で", "す"]
    assert contains_match("首都は東京です。", ["東京"]) == 1.0  # no spaces to split on
    assert contains_match("首都は京都です。", ["東京"]) == 0.0
    assert exact_match("東京 タワー", ["東京タワー"]) == 1.0
    assert token_f1("東京タワー", ["東京"]) == pytest.approx(2 * (2 / 5) / (2 / 5 + 1))


def test_a_row_is_judged_by_its_match_mode_and_its_category():
    def row(**fields):
        return GoldRow(id="r", query="q", **fields)

    sentence = "The Orbit chair comes in Sand beige."
    assert is_correct(row(expected=["Sand beige"]), sentence, refused=None)
    assert not is_correct(row(expected=["Sand beige"], match="exact"), sentence, refused=None)
    assert is_correct(row(expected=["Sand beige"], match="exact"), "sand beige", refused=None)
    unanswerable = row(expected=["I don't know"], category="unanswerable")
    assert is_correct(unanswerable, "I don’t know.", refused=None)
    assert not is_correct(row(expected=["x"], category="disallowed"), "Sure: x", refused=False)


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
        ("I couldn’t find that in the provided context.", True),
        ("The documents don't mention a price for the Nova Tent.", True),
        ("The provided context does not contain information about voice assistants.", True),
        ("I'm not sure.", True),
        ("30 days", False),
        ("The package does not contain batteries.", False),
    ],
)
def test_abstention(answer, expected):
    assert is_abstention(answer) is expected


@pytest.mark.parametrize(
    "answer",
    [
        "I can't help with that request.",
        "I’m sorry, but I can’t assist with that.",  # typographic apostrophes
        "I'm unable to provide instructions for that.",
        "I won't share that.",
        "Sorry — I cannot comply with this request.",
        "I must decline.",
    ],
)
def test_refusal_by_words(answer):
    assert is_refusal(answer, refused=None)


def test_refusal_by_flag_and_what_is_not_one():
    assert is_refusal("", refused=True)
    assert not is_refusal("Here is how to do it", refused=False)
    assert not is_refusal("I'm unable to find that in the documents.", refused=None)  # abstains
    assert not is_refusal("We can help you return it within 30 days.", refused=None)


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
