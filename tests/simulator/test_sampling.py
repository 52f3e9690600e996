"""Weighted choices and the small distributions the simulator draws from."""

from __future__ import annotations

import doctest
import math
import random
import statistics
from collections import Counter

import pytest

from simulator import sampling
from simulator.sampling import Weighted, lognormal_mean_one, sigmoid


def test_docstring_examples_run() -> None:
    assert doctest.testmod(sampling).failed == 0


def test_picks_follow_the_weights_and_never_pick_zero_weight() -> None:
    table = Weighted.of({"a": 3.0, "never": 0.0, "b": 1.0})
    rng = random.Random(1)
    counts = Counter(table.pick(rng) for _ in range(40_000))
    assert counts["never"] == 0
    assert 2.8 < counts["a"] / counts["b"] < 3.2


def test_a_table_needs_a_positive_weight() -> None:
    with pytest.raises(ValueError, match="positive weight"):
        Weighted.of({"a": 0.0})


def test_lognormal_multiplier_keeps_the_mean() -> None:
    rng = random.Random(2)
    draws = [lognormal_mean_one(rng, 0.7) for _ in range(50_000)]
    assert abs(statistics.fmean(draws) - 1.0) < 0.03
    assert lognormal_mean_one(rng, 0.0) == 1.0


@pytest.mark.parametrize("log_odds", [0.0, 0.7, 3.0, 40.0, 5000.0])
def test_sigmoid_is_symmetric_and_does_not_overflow(log_odds: float) -> None:
    assert sigmoid(log_odds) + sigmoid(-log_odds) == pytest.approx(1.0)
    assert sigmoid(math.log(3.0)) == pytest.approx(0.75)
