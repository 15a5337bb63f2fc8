"""Summary statistics for the benchmarks: percentiles (linear interpolation) and latency summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Summary", "percentile", "ratio", "summarize"]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    p95: float
    p99: float
    max: float
    mean: float


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("nothing to summarize")
    return Summary(
        n=len(values),
        median=percentile(values, 50),
        p95=percentile(values, 95),
        p99=percentile(values, 99),
        max=float(max(values)),
        mean=sum(values) / len(values),
    )


def ratio(ours: float, theirs: float) -> float | None:
    """``ours / theirs``, or None when the peer's figure is zero (no meaningful ratio)."""
    if theirs == 0:
        return None
    return ours / theirs
