"""Statistics a gate rests on: Wilson bounds at a confidence, the sample a bound needs, McNemar's exact test."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

Side = Literal["upper", "lower"]
# No sample size is searched beyond this: a gate that needs more questions than this cannot be met in practice.
MAX_QUESTIONS = 10_000_000


def z_for(confidence: float) -> float:
    """The two-sided normal quantile of a confidence level (0.95 -> 1.96)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson_bounds(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The two-sided Wilson score interval at ``confidence``; (nan, nan) when n == 0."""
    if n == 0:
        return (math.nan, math.nan)
    return _wilson(successes / n, n, z_for(confidence))


def _wilson(p: float, n: int, z: float) -> tuple[float, float]:
    """The Wilson interval of an observed proportion ``p`` over ``n`` trials."""
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(0.0, p * (1 - p)) / n + z * z / (4 * n * n)) / denom
    # The bounds at 0 and 1 are exactly 0 and 1; computing them leaves rounding error.
    low = 0.0 if p <= 0.0 else max(0.0, centre - half)
    high = 1.0 if p >= 1.0 else min(1.0, centre + half)
    return (low, high)


def wilson_bound(successes: int, n: int, side: Side, confidence: float = 0.95) -> float:
    """One end of the Wilson interval: ``upper`` for rates that must stay low, ``lower`` for those that must not."""
    low, high = wilson_bounds(successes, n, confidence)
    return high if side == "upper" else low


def bound_at_rate(rate: float, n: int, side: Side, confidence: float = 0.95) -> float:
    """The Wilson bound on ``side`` that an observed ``rate`` would have over ``n`` questions."""
    low, high = _wilson(rate, n, z_for(confidence))
    return high if side == "upper" else low


def questions_needed(rate: float, threshold: float, side: Side, confidence: float = 0.95) -> int | None:
    """The smallest n at which an observed ``rate`` has its Wilson bound on the ``side`` within ``threshold``.

    None when no n suffices: the observed rate itself breaks the threshold (or sits on it), or more than
    ``MAX_QUESTIONS`` would be needed.
    """
    if math.isnan(rate) or (side == "upper" and rate >= threshold) or (side == "lower" and rate <= threshold):
        return None

    def holds(n: int) -> bool:
        # The observed proportion itself, not a count rounded to n: the bound then tightens steadily with n,
        # so the binary search below finds the least n, and every larger n holds too.
        bound = bound_at_rate(rate, n, side, confidence)
        return bound <= threshold if side == "upper" else bound >= threshold

    high = 1
    while not holds(high):
        high *= 2
        if high > MAX_QUESTIONS:
            return None
    low = high // 2  # holds(low) is false, or low == 0
    # Binary search between the last power of two that fails and the first that holds.
    while high - low > 1:
        middle = (low + high) // 2
        if holds(middle):
            high = middle
        else:
            low = middle
    return high


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test on paired binary outcomes: discordant counts and the two-sided p-value."""

    only_base: int
    only_new: int
    p_value: float


def mcnemar_exact(base: list[bool], new: list[bool]) -> McNemar:
    """Exact (binomial) McNemar test of paired outcomes; two-sided, p = 1 with no discordant pair."""
    if len(base) != len(new):
        raise ValueError("paired outcomes must have the same length")
    only_base = sum(b and not n for b, n in zip(base, new, strict=True))
    only_new = sum(n and not b for b, n in zip(base, new, strict=True))
    total = only_base + only_new
    if total == 0:
        return McNemar(0, 0, 1.0)
    tail = sum(math.comb(total, i) for i in range(min(only_base, only_new) + 1)) / 2**total
    return McNemar(only_base, only_new, min(1.0, 2.0 * tail))
