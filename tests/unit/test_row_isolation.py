import pytest

from raygate.packaging.row_isolation import ask_each, ask_each_alone


def _ask_counting(asked: list[str]):
    def ask(row: str) -> str:
        asked.append(row)
        if row.startswith("bad"):
            raise ValueError(f"cannot answer {row}")
        return f"answer to {row}"

    return ask


def _failed(exc: Exception) -> str:
    return f"failed: {exc}"


@pytest.mark.parametrize("rows", [["a", "bad1", "c"], ["bad1", "b", "c", "bad2"]])
def test_a_row_the_model_raises_on_fails_only_itself(rows):
    asked: list[str] = []
    answers = ask_each_alone(rows, _ask_counting(asked), _failed, "batch failed")
    assert answers == [f"failed: cannot answer {r}" if r.startswith("bad") else f"answer to {r}"
                       for r in rows]  # fmt: skip
    assert asked == rows


def test_a_model_failing_its_first_two_rows_alone_is_not_asked_the_rest():
    asked: list[str] = []
    answers = ask_each_alone(["bad1", "bad2", "c", "d"], _ask_counting(asked), _failed, "down")
    assert answers == ["failed: cannot answer bad1", "failed: cannot answer bad2", "down", "down"]
    assert asked == ["bad1", "bad2"]


def test_a_batch_of_one_is_not_asked_again():
    asked: list[str] = []
    assert ask_each_alone(["bad1"], _ask_counting(asked), _failed, "batch failed") == [
        "batch failed"
    ]
    assert asked == []


def test_rows_asked_in_turn_from_the_start_are_each_asked_once():
    asked: list[str] = []
    rows = ["a", "bad1", "c", "bad2"]
    answers = ask_each(rows, _ask_counting(asked), _failed)
    assert asked == rows
    assert answers == ["answer to a", "failed: cannot answer bad1", "answer to c",
                       "failed: cannot answer bad2"]  # fmt: skip
    asked.clear()
    assert ask_each(["bad1", "bad2", "c"], _ask_counting(asked), _failed) == [
        "failed: cannot answer bad1", "failed: cannot answer bad2", "failed: cannot answer bad2"
    ]  # fmt: skip
    assert asked == ["bad1", "bad2"]
