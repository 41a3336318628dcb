"""Which eval rows' traces go to MLflow: the failed and wrong ones first."""

import pyarrow as pa
import pyarrow.parquet as pq

from raygate.evaluation.runner import _rows_to_trace


def test_rows_that_failed_or_answered_wrong_are_traced_first_then_the_rest_in_order(tmp_path):
    path = tmp_path / "eval_table.parquet"
    table = pa.table({
        "trace_id": ["t0", "t1", "t2", "t3", "t4"], "query": list("abcde"),
        "answer": ["", "x", "y", "z", "w"], "correct": [None, True, False, True, None],
        "error": ["ModelError: boom", None, None, None, None],
    })  # fmt: skip
    pq.write_table(table, path, row_group_size=2)
    assert [row["trace_id"] for row in _rows_to_trace(path)] == ["t0", "t2", "t1", "t3", "t4"]
    pq.write_table(table.drop(["correct", "error"]), path)  # an older table: in its order
    assert [row["trace_id"] for row in _rows_to_trace(path)] == ["t0", "t1", "t2", "t3", "t4"]
