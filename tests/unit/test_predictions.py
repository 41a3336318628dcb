import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

from raygate.errors import ModelOutputError
from raygate.evaluation.predictions import PREDICTION_FIELDS, normalize_predictions


def test_strings_become_answers_and_every_other_figure_is_missing():
    (row,) = normalize_predictions(["30 days"], 1)
    assert row["answer"] == "30 days"
    assert all(row[f] is None for f in PREDICTION_FIELDS if f != "answer")


def test_single_column_frame_and_numpy_array():
    assert normalize_predictions(pd.DataFrame({"output": ["a", "b"]}), 2)[1]["answer"] == "b"
    assert normalize_predictions(np.array(["x"]), 1)[0]["answer"] == "x"


def test_records_keep_reported_figures_and_nan_is_missing():
    frame = pd.DataFrame({"answer": ["a"], "tokens_in": [12], "cost_usd": [float("nan")]})
    (row,) = normalize_predictions(frame, 1)
    assert row["tokens_in"] == 12 and row["cost_usd"] is None


def test_every_value_a_model_returns_is_made_json_ready_however_deep():
    """A datetime, an infinity or bytes beside the answer made serving's /v1/predict a bare
    500 (Starlette refuses to encode them) and `raygate predict --json` print `Infinity`."""
    import datetime as dt
    import json
    from decimal import Decimal

    from raygate.packaging.outputs import prediction_records

    frame = pd.DataFrame([{
        "answer": b"text as bytes", "score": float("inf"), "low": np.float64("-inf"),
        "when": pd.Timestamp("2026-01-01 12:30"), "day": dt.date(2026, 1, 2), "never": pd.NaT,
        "ids": np.array([1, 2]), "nested": {"at": [dt.time(9, 5)], 3: np.bool_(True)},
        "raw": b"\xff", "price": Decimal("1.50"),
    }])  # fmt: skip
    (record,) = prediction_records(frame)
    assert record == {
        "answer": "text as bytes", "score": None, "low": None, "when": "2026-01-01T12:30:00",
        "day": "2026-01-02", "never": None, "ids": [1, 2],
        "nested": {"at": ["09:05:00"], "3": True}, "raw": "\ufffd", "price": "1.50",
    }  # fmt: skip
    json.dumps(record, allow_nan=False)  # what Starlette's JSONResponse does


def test_frame_without_answer_column_is_a_clear_error():
    with pytest.raises(ModelOutputError, match="fields a, b: no 'answer'"):
        normalize_predictions(pd.DataFrame({"a": [1], "b": [2]}), 1)
    labelled = pd.DataFrame({"label": ["refund"], "score": [0.9]})  # its one text column
    assert normalize_predictions(labelled, 1)[0]["answer"] == "refund"


def test_records_without_answer_are_an_error_unless_one_field_or_one_text_answers():
    assert normalize_predictions([{"response": "30 days"}], 1)[0]["answer"] == "30 days"
    sourced = [{"response": "30 days", "sources": ["d1"], "confidence": 0.5}]
    assert normalize_predictions(sourced, 1)[0]["answer"] == "30 days"

    class Reply(BaseModel):  # a type-hinted model's pydantic output
        text: str
        confidence: float

    assert normalize_predictions([Reply(text="60 days", confidence=1)], 1)[0]["answer"] == (
        "60 days"
    )
    with pytest.raises(ModelOutputError, match="fields title, summary: no 'answer', no text"):
        normalize_predictions([{"title": "Returns", "summary": "a month"}], 1)
    picked = normalize_predictions([{"response": "30 days", "summary": "a month"}], 1)[0]
    assert picked["answer"] == "30 days"  # of two texts, the one named as answers are
    with pytest.raises(ModelOutputError, match=r"fields \(none\)"):
        normalize_predictions([{}], 1)


def test_wrong_row_count_is_an_error():
    with pytest.raises(ModelOutputError, match="returned 1 predictions for 2 input rows"):
        normalize_predictions(["only one"], 2)


def test_a_dict_is_columns_of_equal_length_or_one_record():
    def answers(raw, rows: int) -> list:
        return [(r["answer"], r["tokens_out"]) for r in normalize_predictions(raw, rows)]

    columns = {"answer": ["a", "b"], "tokens_out": np.array([1, 2])}
    assert answers(columns, 2) == [("a", 1), ("b", 2)]
    assert answers({"predictions": ["a", "b"]}, 2) == [("a", None), ("b", None)]
    (one,) = normalize_predictions({"answer": "a", "citations": ["d1", "d2"]}, 1)
    assert one["answer"] == "a" and one["citations"] == ["d1", "d2"]


def test_rows_of_one_value_are_that_value_and_rows_of_several_are_an_error():
    """A 2-D array or list of lists was read as the text of each row's list ("['a']")."""
    assert [r["answer"] for r in normalize_predictions(np.array([["a"], ["b"]]), 2)] == ["a", "b"]
    assert [r["answer"] for r in normalize_predictions([["a"], ("b",)], 2)] == ["a", "b"]
    for several in ([["a", "c"], ["b"]], np.array([["a", "c"], ["b", "d"]])):
        with pytest.raises(ModelOutputError, match="row 1 is a list of 2 values"):
            normalize_predictions(several, 2)


def test_an_answer_left_empty_is_empty_text_as_the_api_schema_says():
    frame = pd.DataFrame({"answer": [None, float("nan"), "a"], "tokens_out": [1, 2, 3]})
    assert [r["answer"] for r in normalize_predictions(frame, 3)] == ["", "", "a"]
    assert normalize_predictions([None], 1)[0]["answer"] == ""


def test_an_openai_reply_returned_as_it_came_gives_its_text_and_token_counts():
    completion = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
                  "choices": [{"index": 0, "finish_reason": "stop",
                               "message": {"role": "assistant", "content": "It costs $49."}}],
                  "usage": {"prompt_tokens": 12, "completion_tokens": 5,
                            "total_tokens": 17}}  # fmt: skip
    response = {"id": "resp_1", "object": "response", "status": "incomplete",
                "incomplete_details": {"reason": "max_output_tokens"},
                "output": [{"type": "message", "role": "assistant",
                            "content": [{"type": "output_text", "text": "It costs"}]}],
                "usage": {"input_tokens": 4, "output_tokens": 2}}  # fmt: skip
    chat, cut = normalize_predictions([completion, response], 2)
    assert (chat["answer"], chat["tokens_in"], chat["tokens_out"]) == ("It costs $49.", 12, 5)
    assert (cut["answer"], cut["finish_reason"], cut["tokens_out"]) == ("It costs", "length", 2)


def test_a_records_usage_counts_its_tokens_unless_it_counts_them_itself():
    rows = [{"answer": "a", "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
            {"answer": "b", "tokens_in": 7, "usage": {"input_tokens": 3, "output_tokens": 1}},
            {"answer": "c", "usage": "n/a"}]  # fmt: skip
    first, second, third = normalize_predictions(rows, 3)
    assert (first["tokens_in"], first["tokens_out"]) == (3, 2)
    assert (second["tokens_in"], second["tokens_out"]) == (7, 1)
    assert third["tokens_in"] is None and third["tokens_out"] is None


def test_of_several_text_fields_the_one_frameworks_name_the_answer_is_taken():
    agent = {"input": "What is the fee?", "output": "$5.", "intermediate_steps": []}  # LangChain
    message = {"content": "$5.", "type": "ai", "id": "run-1",
               "usage_metadata": {"input_tokens": 9, "output_tokens": 2}}  # fmt: skip
    first, second = normalize_predictions([agent, message], 2)
    assert first["answer"] == second["answer"] == "$5."
    assert (second["tokens_in"], second["tokens_out"]) == (9, 2)
    with pytest.raises(ModelOutputError, match="no text field named output, output_text"):
        normalize_predictions([{"a": "x", "b": "y"}], 1)
