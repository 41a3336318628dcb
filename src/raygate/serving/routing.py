"""Which variant answers a request: sticky by user or session hash, uniform when anonymous."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection

from raygate.serving.settings import VariantName


def sticky_position(key: str) -> float:
    """A stable position in [0, 1) for a user or session id (BLAKE2b, not Python's hash)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def choose_variant(
    key: str | None, canary_percent: float, served: Collection[str], rng: random.Random
) -> VariantName:
    """'canary' for a share `canary_percent` of keys (or of anonymous requests), else 'champion';
    the one variant an app serves when it serves one.

    A key keeps its variant while the weight stays, and a ramp only moves keys from champion
    to canary: the canary's set at 1 % is contained in its set at 5 %.
    """
    if "champion" not in served:
        return "canary"
    if "canary" not in served or canary_percent <= 0:
        return "champion"
    position = sticky_position(key) if key else rng.random()
    return "canary" if position < canary_percent / 100 else "champion"
