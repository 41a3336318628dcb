import math

import pandas as pd
import pytest

from raygate.errors import InputError
from raygate.schemas import parse_predict_input


def test_dataframe_without_query_column_names_the_column():
    with pytest.raises(InputError, match=r"no 'query' column \(columns: question\)"):
        parse_predict_input(pd.DataFrame({"question": ["hi"]}))


def test_row_without_query_names_the_row_and_field():
    with pytest.raises(InputError, match=r"input row 1: field 'query': Field required"):
        parse_predict_input([{"query": "ok"}, {"user_id": "u1"}])


def test_empty_query_is_rejected():
    with pytest.raises(InputError, match="field 'query'"):
        parse_predict_input([{"query": ""}])


def test_unknown_column_is_named():
    with pytest.raises(InputError, match=r"unknown column.*expected"):
        parse_predict_input(pd.DataFrame({"query": ["q"], "expected": ["a"]}))


def test_unknown_key_in_dict_row_is_named():
    with pytest.raises(InputError, match="field 'prompt': Extra inputs"):
        parse_predict_input([{"query": "q", "prompt": "x"}])


def test_missing_optional_values_become_none():
    frame = pd.DataFrame({"query": ["a", "b"], "user_id": ["u1", math.nan]})
    rows = parse_predict_input(frame)
    assert [r.user_id for r in rows] == ["u1", None]


def test_list_of_dicts_and_dataframe_parse_the_same():
    records = [{"query": "a", "session_id": "s"}, {"query": "b", "session_id": "t"}]
    assert parse_predict_input(records) == parse_predict_input(pd.DataFrame(records))


@pytest.mark.parametrize("bad", ["just a string", 42])
def test_other_input_types_are_rejected(bad):
    with pytest.raises(InputError, match="DataFrame or a list of dicts"):
        parse_predict_input(bad)


def test_non_dict_row_is_rejected():
    with pytest.raises(InputError, match="input row 0 is a str"):
        parse_predict_input(["What is the price?"])
