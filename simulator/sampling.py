"""Weighted choice and small distributions on a plain `random.Random`.

`random.choices` rebuilds its cumulative weights on every call; the simulator draws tens of
millions of weighted choices from a few fixed tables, so each table is built once here.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Weighted(Generic[T]):
    """A fixed set of items with relative weights; `pick` costs one binary search.

    >>> table = Weighted.of({"a": 1.0, "b": 0.0})
    >>> table.pick(random.Random(1))
    'a'
    """

    items: tuple[T, ...]
    cum: tuple[float, ...]

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[T, float]]) -> Weighted[T]:
        items, cum, total = [], [], 0.0
        for item, weight in pairs:
            total += weight
            items.append(item)
            cum.append(total)
        if total <= 0:
            raise ValueError("a weighted table needs at least one positive weight")
        return cls(tuple(items), tuple(cum))

    @classmethod
    def of(cls, weights: Mapping[T, float]) -> Weighted[T]:
        return cls.from_pairs(weights.items())

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect_right(self.cum, rng.random() * self.cum[-1])]


def sigmoid(log_odds: float) -> float:
    """P from log-odds; never overflows, however extreme a configured effect is."""
    if log_odds >= 0:
        return 1.0 / (1.0 + math.exp(-log_odds))
    odds = math.exp(log_odds)
    return odds / (1.0 + odds)


def lognormal_mean_one(rng: random.Random, sigma: float) -> float:
    """A lognormal multiplier whose mean is 1, so it spreads a rate without shifting it."""
    return math.exp(rng.gauss(0.0, sigma) - sigma * sigma / 2.0) if sigma else 1.0
