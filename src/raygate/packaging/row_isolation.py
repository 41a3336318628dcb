"""Rows of a batch a model failed, asked one at a time, so one bad row fails only itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

Row = TypeVar("Row")
Answer = TypeVar("Answer")


def ask_each_alone(
    rows: Sequence[Row],
    ask: Callable[[Row], Answer],
    failed: Callable[[Exception], Answer],
    batch_failure: Answer,
) -> list[Answer]:
    """Each row's answer from `ask`, or `failed(exception)` for a row it raises on, for a
    batch that failed with `batch_failure` (a batch of one is not asked again). When the
    first two rows asked alone both fail, the failure is not one row's (an endpoint down):
    the rest are not asked and get `batch_failure`, so a model failing as a whole costs two
    more calls, not one per row."""
    if len(rows) == 1:
        return [batch_failure]
    answers: list[Answer] = []
    answered = False
    for i, row in enumerate(rows):
        if i == 2 and not answered:
            break
        try:
            answers.append(ask(row))
            answered = True
        except Exception as exc:
            answers.append(failed(exc))
    return answers + [batch_failure] * (len(rows) - len(answers))
