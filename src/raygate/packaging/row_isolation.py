"""Rows of a batch a model failed, asked one at a time, so one bad row fails only itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

Row = TypeVar("Row")
Answer = TypeVar("Answer")


def ask_each(
    rows: Sequence[Row],
    ask: Callable[[Row], Answer],
    failed: Callable[[Exception], Answer],
    rest_failure: Answer | None = None,
) -> list[Answer]:
    """Each row's answer from `ask`, or `failed(exception)` for a row it raises on. When the
    first two rows both fail, the failure is not one row's (an endpoint down): the rest are
    not asked and get `rest_failure` (by default the second row's failure), so a model
    failing as a whole costs two calls, not one per row."""
    answers: list[Answer] = []
    answered = False
    for i, row in enumerate(rows):
        if i == 2 and not answered:
            rest = answers[-1] if rest_failure is None else rest_failure
            return answers + [rest] * (len(rows) - 2)
        try:
            answers.append(ask(row))
            answered = True
        except Exception as exc:
            answers.append(failed(exc))
    return answers


def ask_each_alone(
    rows: Sequence[Row],
    ask: Callable[[Row], Answer],
    failed: Callable[[Exception], Answer],
    batch_failure: Answer,
) -> list[Answer]:
    """`ask_each` for the rows of a batch that failed with `batch_failure` (a batch of one is
    not asked again; rows not asked get `batch_failure`)."""
    if len(rows) == 1:
        return [batch_failure]
    return ask_each(rows, ask, failed, rest_failure=batch_failure)
