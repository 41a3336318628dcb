"""Gold sets: schema, validated loading, content hashes; the shipped corpus and gold sets."""

from raygate.goldset.loader import (
    BUILTIN_GOLDSETS,
    GoldSet,
    GoldSetInfo,
    load_goldset,
    scan_goldset,
)
from raygate.goldset.schema import GoldRow

__all__ = ["BUILTIN_GOLDSETS", "GoldRow", "GoldSet", "GoldSetInfo", "load_goldset", "scan_goldset"]
