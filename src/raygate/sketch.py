"""A mergeable log-bucketed histogram: bounded memory, ranks exact at bucket edges; and
percentiles of a stream, exact while it is small, from the histogram beyond.

Buckets are Prometheus native-histogram buckets of schema 5: bucket `i` holds the values in
(2^((i-1)/32), 2^(i/32)], so neighbouring edges differ by 2.2 %. A Prometheus native
histogram of schema ≤ 5 maps onto these buckets exactly, the in-cluster aggregator and a
replayed file fill them the same way, and two histograms merge by adding counts. Counts live
in one array from the lowest to the highest bucket seen: memory grows with the range of the
values (32 buckets per doubling), never with their number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

SCHEMA = 5
_PER_DOUBLING = 2**SCHEMA
GROWTH = 2 ** (1 / _PER_DOUBLING)  # ratio of a bucket's upper edge to its lower edge
# A quantile read as its bucket's geometric middle is within this share of the value at its
# rank (half a bucket on a log scale: 1.09 %).
RELATIVE_ERROR = math.sqrt(GROWTH) - 1
EXACT_UP_TO = 10_000  # values a Quantiles keeps as they are before it folds them into buckets


def bucket_index(value: float) -> int:
    """The bucket holding a positive value."""
    return math.ceil(math.log2(value) * _PER_DOUBLING)


def bucket_edges(index: int) -> tuple[float, float]:
    """(lower, upper] edges of bucket `index`."""
    return 2 ** ((index - 1) / _PER_DOUBLING), 2 ** (index / _PER_DOUBLING)


class LogHistogram:
    """Counts per bucket; values ≤ 0 go to a zero bucket below every other."""

    __slots__ = ("counts", "offset", "zero")

    def __init__(self, offset: int = 0, counts: np.ndarray | None = None, zero: int = 0):
        self.offset = offset  # bucket index of counts[0]
        self.counts = np.zeros(0, np.int64) if counts is None else counts.astype(np.int64)
        self.zero = zero

    @property
    def count(self) -> int:
        return self.zero + int(self.counts.sum())

    def add(self, value: float) -> None:
        if value <= 0:
            self.zero += 1
            return
        index = bucket_index(value)
        self._cover(index, index)
        self.counts[index - self.offset] += 1

    def add_many(self, values: Iterable[float]) -> None:
        array = np.asarray(values if isinstance(values, np.ndarray) else list(values), float)
        positive = array[array > 0]
        self.zero += int(array.size - positive.size)
        if positive.size:
            indices = np.ceil(np.log2(positive) * _PER_DOUBLING).astype(np.int64)
            low = int(indices.min())
            self.add_counts(low, np.bincount(indices - low))

    def add_counts(self, first_index: int, counts: np.ndarray) -> None:
        """Add counts[k] values to bucket first_index + k (how sketches from elsewhere arrive)."""
        if counts.size == 0:
            return
        last = first_index + counts.size - 1
        self._cover(first_index, last)
        start = first_index - self.offset
        self.counts[start : start + counts.size] += counts.astype(np.int64)

    def merge(self, other: LogHistogram) -> LogHistogram:
        """A new histogram holding the values of both."""
        merged = LogHistogram(self.offset, self.counts.copy(), self.zero + other.zero)
        merged.add_counts(other.offset, other.counts)
        return merged

    def _cover(self, low: int, high: int) -> None:
        if self.counts.size == 0:
            self.offset, self.counts = low, np.zeros(high - low + 1, np.int64)
            return
        new_low = min(low, self.offset)
        new_high = max(high, self.offset + self.counts.size - 1)
        if new_low == self.offset and new_high == self.offset + self.counts.size - 1:
            return
        grown = np.zeros(new_high - new_low + 1, np.int64)
        start = self.offset - new_low
        grown[start : start + self.counts.size] = self.counts
        self.offset, self.counts = new_low, grown

    def rank_bounds(self, rank: int) -> tuple[float, float]:
        """(lower, upper) edges of the bucket holding the rank-th smallest value (1-based)."""
        if rank <= self.zero or self.counts.size == 0:
            return 0.0, 0.0
        cumulative = np.cumsum(self.counts) + self.zero
        position = min(int(np.searchsorted(cumulative, rank, side="left")), cumulative.size - 1)
        return bucket_edges(self.offset + position)

    def quantile_bucket(self, p: float) -> int | None:
        """The bucket holding the p-quantile; None when it is the zero bucket or empty."""
        total = self.count
        rank = max(1, math.ceil(p * total))
        if total == 0 or rank <= self.zero:
            return None
        cumulative = np.cumsum(self.counts) + self.zero
        return self.offset + int(np.searchsorted(cumulative, rank, side="left"))

    def count_above(self, index: int) -> int:
        """How many values lie above bucket `index` (exact: buckets do not straddle edges)."""
        start = max(0, index + 1 - self.offset)
        return int(self.counts[start:].sum())

    def quantile(self, p: float) -> float | None:
        """A point estimate of the p-quantile (the geometric middle of its bucket)."""
        total = self.count
        if total == 0:
            return None
        lower, upper = self.rank_bounds(max(1, math.ceil(p * total)))
        return math.sqrt(lower * upper)


class Quantiles:
    """Percentiles of a stream of values. Up to `exact_up_to` values they are exact (numpy's
    linear interpolation); past that the values are folded into a LogHistogram, and each
    percentile is within RELATIVE_ERROR of the value at its rank: memory stays bounded by
    `exact_up_to` and the histogram's range, never by how many values arrive. NaN is skipped.
    """

    __slots__ = ("_count", "_exact", "_exact_up_to", "_histogram")

    def __init__(self, exact_up_to: int = EXACT_UP_TO) -> None:
        self._exact_up_to = exact_up_to
        self._exact: list[np.ndarray] = []
        self._histogram: LogHistogram | None = None
        self._count = 0

    @property
    def count(self) -> int:
        return self._count

    @property
    def exact(self) -> bool:
        """Whether the percentiles are still computed from every value."""
        return self._histogram is None

    def add_many(self, values: Iterable[float]) -> None:
        array = np.asarray(values if isinstance(values, np.ndarray) else list(values), float)
        array = array[~np.isnan(array)]
        if array.size == 0:
            return
        self._count += int(array.size)
        if self._histogram is not None:
            self._histogram.add_many(array)
            return
        self._exact.append(array)
        if self._count > self._exact_up_to:
            self._histogram = LogHistogram()
            self._histogram.add_many(np.concatenate(self._exact))
            self._exact = []

    def percentile(self, q: float) -> float | None:
        """The q-th percentile (0–100); None when no value arrived."""
        if self._count == 0:
            return None
        if self._histogram is None:
            return float(np.percentile(np.concatenate(self._exact), q))
        return self._histogram.quantile(q / 100)

    def histogram(self) -> LogHistogram:
        """The values as a LogHistogram (built on demand while the values are still exact)."""
        if self._histogram is not None:
            return self._histogram
        histogram = LogHistogram()
        if self._exact:
            histogram.add_many(np.concatenate(self._exact))
        return histogram
