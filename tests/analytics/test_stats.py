"""Rate intervals, the stratified lift and BH against scipy and published values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.stats.contingency import relative_risk

from analytics.stats import (
    benjamini_hochberg,
    clustered_difference,
    clustered_lift,
    stratified_lift,
    wilson_interval,
)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (377, 1000), (1, 2)])
def test_wilson_interval_is_scipys(k: int, n: int) -> None:
    expected = stats.binomtest(k, n).proportion_ci(method="wilson")
    assert wilson_interval(k, n) == pytest.approx((expected.low, expected.high))


def test_wilson_interval_of_nothing_is_unknown() -> None:
    low, high = wilson_interval(0, 0)
    assert math.isnan(low) and math.isnan(high)


@pytest.mark.parametrize(("a", "n1", "c", "n0"), [(30, 100, 20, 120), (10, 75, 12, 225)])
def test_one_stratum_is_the_plain_risk_ratio_katz_interval_and_chi_square(
    a: int, n1: int, c: int, n0: int
) -> None:
    result = stratified_lift([a], [n1], [c], [n0])
    expected = relative_risk(a, n1, c, n0)
    interval = expected.confidence_interval(0.95)
    assert result.lift == pytest.approx(expected.relative_risk)
    assert (result.low, result.high) == pytest.approx((interval.low, interval.high))
    # One stratum: the CMH statistic is Pearson's chi-square times (N - 1) / N.
    table = np.array([[a, n1 - a], [c, n0 - c]])
    chi2 = stats.chi2_contingency(table, correction=False).statistic
    total = n1 + n0
    z = stats.norm.isf(result.p_value)
    assert z**2 == pytest.approx(chi2 * (total - 1) / total)
    assert z > 0  # exposed return more: the one-sided p-value is below 1/2


def test_cmh_statistic_matches_r_on_ucb_admissions() -> None:
    """R: mantelhaen.test(UCBAdmissions, correct = FALSE) gives X-squared = 1.5246."""
    male_admitted = [512, 353, 120, 138, 53, 22]
    male_rejected = [313, 207, 205, 279, 138, 351]
    female_admitted = [89, 17, 202, 131, 94, 24]
    female_rejected = [19, 8, 391, 244, 299, 317]
    male = np.add(male_admitted, male_rejected)
    female = np.add(female_admitted, female_rejected)
    result = stratified_lift(male_admitted, male, female_admitted, female)
    assert stats.norm.isf(result.p_value) ** 2 == pytest.approx(1.5246, abs=1e-4)
    assert result.p_value > 0.5  # men were admitted *less* often within departments


def test_strata_with_one_common_ratio_pool_to_it() -> None:
    # Rates 10 % vs 5 % and 60 % vs 30 %: the ratio is 2 in both strata, whatever their sizes.
    result = stratified_lift([10, 60], [100, 100], [10, 60], [200, 200])
    assert result.lift == pytest.approx(2.0)
    assert result.low < 2.0 < result.high
    assert result.p_value < 1e-6


def test_pooling_removes_a_confounder_that_the_crude_ratio_shows() -> None:
    """Exposed orders only in the high-return stratum, no effect within it: crude lift 1.5,
    stratified lift 1, not significant."""
    exposed, exposed_returned = [0, 100], [0, 60]
    unexposed, unexposed_returned = [100, 100], [20, 60]
    crude = (60 / 100) / (80 / 200)
    assert crude == pytest.approx(1.5)
    result = stratified_lift(exposed_returned, exposed, unexposed_returned, unexposed)
    assert result.lift == pytest.approx(1.0)
    assert result.matched == 100
    assert result.p_value == pytest.approx(0.5)


def test_strata_without_a_comparison_are_left_out() -> None:
    result = stratified_lift([5], [10], [0], [0])
    assert result.matched == 0
    assert math.isnan(result.lift) and math.isnan(result.p_value)


def test_benjamini_hochberg_is_scipys_and_skips_untested() -> None:
    p = np.array([0.001, 0.008, np.nan, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205])
    tested = p[~np.isnan(p)]
    adjusted = benjamini_hochberg(p)
    assert np.isnan(adjusted[2])
    assert adjusted[~np.isnan(p)] == pytest.approx(stats.false_discovery_control(tested))
    # By hand: q_i = min over j >= i of p_j * m / j, m = 8 tested.
    assert adjusted[0] == pytest.approx(0.001 * 8 / 1)
    assert adjusted[1] == pytest.approx(0.008 * 8 / 2)
    assert adjusted[3] == pytest.approx(0.042 * 8 / 5)


def test_benjamini_hochberg_of_nothing() -> None:
    assert benjamini_hochberg([]).size == 0


def _orders(seed: int, n: int = 4000) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, 20, n)
    exposed = rng.random(n) < 0.3
    returned = rng.random(n) < np.where(exposed, 0.36, 0.3)
    return stratum, exposed, returned, np.arange(n)


def test_clustered_lift_from_independent_orders_is_the_plain_stratified_lift() -> None:
    stratum, exposed, returned, customer = _orders(seed=1)
    result = clustered_lift(stratum, exposed, returned, customer)

    def per_stratum(mask: np.ndarray) -> list[int]:
        return [int((mask & (stratum == s)).sum()) for s in range(20)]

    plain = stratified_lift(
        per_stratum(returned & exposed),
        per_stratum(exposed),
        per_stratum(returned & ~exposed),
        per_stratum(~exposed),
    )
    assert result.design_effect == pytest.approx(1.0, abs=0.1)
    assert result.lift == pytest.approx(plain.lift)
    assert result.expected_rate == pytest.approx(plain.expected_rate)


def test_copies_of_a_customers_orders_add_no_certainty() -> None:
    """Every order twice, by the same customer: twice the orders, no more information."""
    stratum, exposed, returned, customer = _orders(seed=2)
    once = clustered_lift(stratum, exposed, returned, customer)
    twice = clustered_lift(
        *(np.concatenate([x, x]) for x in (stratum, exposed, returned, customer))
    )
    assert twice.lift == pytest.approx(once.lift)
    assert twice.design_effect == pytest.approx(2 * once.design_effect, rel=0.05)
    assert stats.norm.isf(twice.p_value) == pytest.approx(stats.norm.isf(once.p_value), rel=0.05)
    assert (twice.low, twice.high) == pytest.approx((once.low, once.high), rel=0.01)


def _holdout(seed: int, effect: float = 0.0, customers: int = 300) -> tuple[np.ndarray, ...]:
    """Orders of a rule with a 30 % customer holdout: 1-4 orders per customer, each customer
    with their own return propensity around 20 % (beta(1, 4)), treated orders `effect` more
    likely to come back; and a skewed returned value of each returned order."""
    rng = np.random.default_rng(seed)
    treated = rng.random(customers) >= 0.3
    propensity = rng.beta(1.0, 4.0, customers)
    customer = np.repeat(np.arange(customers), rng.integers(1, 5, customers))
    chance = propensity[customer] + effect * treated[customer]
    returned = rng.random(len(customer)) < chance
    value = returned * rng.gamma(2.0, 25.0, len(customer))
    return returned.astype(np.float64), value, treated[customer], customer


def test_clustered_difference_of_independent_orders_is_welchs_statistic() -> None:
    returned, _, treated, _ = _holdout(seed=3)
    orders = np.arange(len(returned))  # every order its own customer
    result = clustered_difference(returned, treated, orders)
    welch = stats.ttest_ind(returned[treated], returned[~treated], equal_var=False)
    freedom = min(treated.sum(), (~treated).sum()) - 1
    assert result.design_effect == 1.0
    assert result.difference == pytest.approx(returned[treated].mean() - returned[~treated].mean())
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(welch.statistic), freedom))
    margin = stats.t.ppf(0.975, freedom) * result.difference / welch.statistic
    assert (result.low, result.high) == pytest.approx(
        (result.difference - margin, result.difference + margin)
    )


def test_copies_of_a_customers_orders_do_not_narrow_the_difference() -> None:
    """Every order three times, by the same customer: the interval stays where it was."""
    returned, _, treated, customer = _holdout(seed=4)
    once = clustered_difference(returned, treated, customer)
    thrice = clustered_difference(*(np.tile(x, 3) for x in (returned, treated, customer)))
    assert thrice.difference == pytest.approx(once.difference)
    assert thrice.design_effect == pytest.approx(3 * once.design_effect, rel=0.05)
    assert (thrice.low, thrice.high) == pytest.approx((once.low, once.high), rel=0.05)
    assert thrice.p_value == pytest.approx(once.p_value, rel=0.1)


@pytest.mark.parametrize("outcome", ["returned", "value"])
def test_clustered_difference_holds_its_level_over_many_holdouts(outcome: str) -> None:
    """1,000 rules without an effect: about 5 % of their intervals miss 0 (3 standard errors
    allowed), though customers' orders are alike (design effects well above 1); a planted
    effect of +10 points is covered about 95 % of the time."""
    missed = covered = 0
    effects = []
    for seed in range(1000):
        returned, value, treated, customer = _holdout(seed)
        result = clustered_difference(
            returned if outcome == "returned" else value, treated, customer
        )
        missed += not result.low <= 0.0 <= result.high
        effects.append(result.design_effect)
        assert (result.p_value < 0.05) == (not result.low <= 0.0 <= result.high)
    assert missed / 1000 <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 1000)
    assert np.median(effects) > 1.15
    if outcome == "returned":
        for seed in range(1000, 1300):
            returned, _, treated, customer = _holdout(seed, effect=0.10)
            result = clustered_difference(returned, treated, customer)
            covered += result.low <= 0.10 <= result.high
        assert covered / 300 >= 0.95 - 3 * math.sqrt(0.05 * 0.95 / 300)


def test_a_difference_needs_two_orders_a_group_and_some_variation() -> None:
    assert math.isnan(clustered_difference([1, 0, 1], [1, 1, 0], [1, 2, 3]).difference)
    flat = clustered_difference([0, 0, 0, 0], [1, 1, 0, 0], [1, 2, 3, 4])
    assert flat.difference == 0.0 and math.isnan(flat.p_value)
