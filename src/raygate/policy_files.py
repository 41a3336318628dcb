"""Which policy file a command reads when none is named: ./policies/KIND.yaml where the working
directory has one (a raygate checkout, a project keeping its own), else the copy raygate ships,
so an installed raygate runs from any directory."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

BUILTIN_DIR = Path(__file__).resolve().parent / "defaults"
PolicyKind = Literal["gates", "rollout"]


def policy_file(path: str | Path | None, kind: PolicyKind) -> Path:
    """`path` when given; else ./policies/KIND.yaml if it exists, else the built-in one."""
    if path is not None:
        return Path(path)
    local = Path("policies") / f"{kind}.yaml"
    return local if local.is_file() else BUILTIN_DIR / f"{kind}.yaml"


def default_help(kind: PolicyKind) -> str:
    """How `--help` states the default."""
    return f"default: ./policies/{kind}.yaml, else raygate's built-in one"
