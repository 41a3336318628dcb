"""Percentages on the command line: `5`, `5%`, `0.5 %`, from 0 to 100."""

from __future__ import annotations

import math

import typer


def percent(text: str) -> float:
    """`5`, `5%`, `12.5 %` → 5.0, 12.5; anything else, or outside 0-100, is a BadParameter."""
    number = text.strip().removesuffix("%").strip()
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise typer.BadParameter(f"{text!r} is not a percentage; give a number 0-100 (5, 5%)")
    if not 0 <= value <= 100:
        raise typer.BadParameter(f"{text} is outside 0-100 %")
    return value
