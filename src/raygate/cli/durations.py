"""Durations on the command line: seconds as a number, or with units like 90s, 5m, 1h30m."""

from __future__ import annotations

import math
import re

import typer

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|h|m|s)")
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def seconds(text: str) -> float:
    """`90`, `90s`, `1.5m`, `1h30m`, `500ms` → seconds; anything else is a BadParameter."""
    text = text.strip().lower()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(value):
            return value
    parts = _PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise typer.BadParameter(
            f"{text!r} is not a duration; give seconds (90) or a number with units h, m, s, "
            "ms (90s, 5m, 1h30m)"
        )
    return sum(float(number) * _SECONDS[unit] for number, unit in parts)


def at_least(minimum: float):
    """A parser of durations that refuses ones shorter than `minimum` seconds."""

    def parse(text: str) -> float:
        value = seconds(text)
        if value < minimum:
            raise typer.BadParameter(f"{text} is {value:g} s; give at least {minimum:g} s")
        return value

    return parse
