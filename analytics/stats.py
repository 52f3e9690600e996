"""The statistics behind the report: rate intervals, stratified lift, multiple testing.

Why these methods:
- A return rate is a binomial proportion; its 95 % interval is Wilson's (scipy), which stays
  inside [0, 1] and behaves for small groups and rates near 0 or 1, unlike the Wald interval.
- Orders after a campaign touch differ from untouched orders in *when* they were placed (a
  Black Friday campaign only has Black Friday orders, and gift-season orders come back more)
  and in *who* placed them. Comparing a campaign with all untouched orders would flag the
  season, not the campaign. So each campaign is compared with untouched orders of the same
  strata (see `analytics.marketing.STRATA`), pooled with Mantel-Haenszel: the risk ratio
  estimate with the Greenland-Robins variance for its confidence interval, and the
  Cochran-Mantel-Haenszel test for its p-value. With one stratum these reduce to the plain
  risk ratio with the Katz interval and the Pearson chi-square test (checked against scipy
  in the tests).
- One customer's orders are alike, so orders are not independent draws; both variances are
  scaled by a design effect estimated from the data (`clustered_lift`), or a customer who
  orders often after one campaign would make it look surer than it is.
- The p-value is one-sided (H1: the touched orders come back more often), because only
  excess return propensity is flagged.
- Many campaigns are tested at once, so p-values are adjusted with Benjamini-Hochberg (scipy's
  `false_discovery_control`), which keeps the expected share of false flags at 5 %.
- An offer rule's treated and held-out orders are a randomised comparison (the holdout is a
  hash of customer and rule), so no strata are needed: `clustered_difference` takes the
  plain difference of means (rates, values) with Welch's variance, widened by the same
  customer design effect, since the holdout assigns customers and not orders, and Student's
  t for a holdout of few customers. Both signs matter (an offer may lower returns or raise
  them), so its p-value is two-sided.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

logger = logging.getLogger(__name__)

CONFIDENCE = 0.95
Z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))
NAN = math.nan

Counts = npt.ArrayLike
Floats = npt.NDArray[np.float64]


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion; NaN for an empty group."""
    if trials <= 0:
        return NAN, NAN
    interval = stats.binomtest(int(successes), int(trials)).proportion_ci(
        confidence_level=CONFIDENCE, method="wilson"
    )
    return float(interval.low), float(interval.high)


@dataclass(frozen=True, slots=True)
class StratifiedLift:
    """Exposed orders against unexposed orders of the same strata, pooled Mantel-Haenszel.

    `matched` counts exposed orders in strata that also hold unexposed ones: only those
    enter the estimate (the others have nothing to be compared with).
    """

    matched: int
    expected_rate: float
    """The rate the matched exposed orders would have had at the unexposed rate of their
    own stratum (indirect standardisation)."""
    lift: float
    """Mantel-Haenszel risk ratio: how many times as often exposed orders came back."""
    low: float
    high: float
    p_value: float
    """One-sided Cochran-Mantel-Haenszel test of excess returns among exposed orders."""
    design_effect: float = 1.0
    """Factor by which both variances were scaled for orders that are not independent."""


def stratified_lift(
    exposed_events: Counts,
    exposed: Counts,
    unexposed_events: Counts,
    unexposed: Counts,
    design_effect: float = 1.0,
) -> StratifiedLift:
    """Pool per-stratum 2x2 tables (events and totals for exposed and unexposed orders).

    >>> result = stratified_lift([30], [100], [20], [120])
    >>> round(result.lift, 3), round(result.low, 3), round(result.high, 3)
    (1.8, 1.092, 2.967)
    """
    a, n1, c, n0 = (
        np.asarray(x, dtype=np.float64)
        for x in (exposed_events, exposed, unexposed_events, unexposed)
    )
    keep = (n1 > 0) & (n0 > 0)
    a, n1, c, n0 = a[keep], n1[keep], c[keep], n0[keep]
    matched = int(n1.sum())
    if matched == 0:
        return StratifiedLift(0, NAN, NAN, NAN, NAN, NAN, design_effect)
    total, events = n1 + n0, a + c
    r = float((a * n0 / total).sum())
    s = float((c * n1 / total).sum())
    lift = r / s if s > 0 else NAN
    low = high = NAN
    if r > 0 and s > 0:
        variance = float(((n1 * n0 * events - a * c * total) / total**2).sum()) / (r * s)
        spread = Z * math.sqrt(max(variance, 0.0) * design_effect)
        low, high = lift * math.exp(-spread), lift * math.exp(spread)
    variance_a = cmh_variance(n1, n0, events, total)
    p_value = NAN
    if variance_a > 0:
        z = float((a - n1 * events / total).sum()) / math.sqrt(variance_a * design_effect)
        p_value = float(stats.norm.sf(z))
    expected_rate = float((n1 * c / n0).sum()) / matched
    return StratifiedLift(matched, expected_rate, lift, low, high, p_value, design_effect)


def cmh_variance(n1: Floats, n0: Floats, events: Floats, total: Floats) -> float:
    """Variance of the exposed events under the null, summed over strata (hypergeometric)."""
    informative = total > 1
    n1, n0, events, total = (x[informative] for x in (n1, n0, events, total))
    return float((n1 * n0 * events * (total - events) / (total**2 * (total - 1))).sum())


def clustered_lift(
    stratum: npt.ArrayLike, exposed: npt.ArrayLike, returned: npt.ArrayLike, customer: npt.ArrayLike
) -> StratifiedLift:
    """`stratified_lift` from single orders, with a design effect for customers.

    One customer's orders come back together (sizes, habits), so ten orders of one customer
    say less than ten orders of ten customers, and the plain Mantel-Haenszel variances are
    too small. The design effect is the ratio of the score's cluster-robust (sandwich)
    variance, summing each customer's contributions before squaring, to its model
    variance; it is never taken below 1, and it scales the variance of the p-value's test
    and of the interval alike (as Rao and Scott adjust chi-square tests for clustering).
    """
    strata, index = np.unique(np.asarray(stratum), return_inverse=True)
    x = np.asarray(exposed, dtype=np.float64)
    y = np.asarray(returned, dtype=np.float64)
    total, n1, a, events = (
        np.bincount(index, weights=w, minlength=len(strata)).astype(np.float64)
        for w in (np.ones_like(x), x, x * y, y)
    )
    n0, c = total - n1, events - a
    residual = (x - (n1 / total)[index]) * (y - (events / total)[index])
    model = cmh_variance(n1, n0, events, total)
    return stratified_lift(a, n1, c, n0, customer_design_effect(residual, customer, model))


def customer_design_effect(
    contributions: npt.ArrayLike, customer: npt.ArrayLike, model_variance: float
) -> float:
    """Cluster-robust variance of a sum of per-order contributions / its model variance.

    The robust (sandwich) variance sums each customer's contributions before squaring, so
    a customer whose orders move together counts as one draw, not many. Never below 1: with
    few customers the sandwich itself is noisy and could only make an interval narrower.
    """
    _, customers = np.unique(np.asarray(customer), return_inverse=True)
    weights = np.asarray(contributions, dtype=np.float64)
    robust = float((np.bincount(customers, weights=weights) ** 2).sum())
    return max(1.0, robust / model_variance) if model_variance > 0 else 1.0


@dataclass(frozen=True, slots=True)
class Difference:
    """Mean of one group's orders minus the other's, with a 95 % interval and a two-sided
    p-value that allow for one customer's orders being alike."""

    difference: float
    low: float
    high: float
    p_value: float
    """Two-sided: NaN when neither group varies (nothing to test)."""
    design_effect: float = 1.0


def clustered_difference(
    values: npt.ArrayLike, treated: npt.ArrayLike, customer: npt.ArrayLike
) -> Difference:
    """Treated mean - untreated mean of a per-order value (0/1 for a rate), clustered by customer.

    The model variance is Welch's (each group's sample variance / its size, summed), which
    treats orders as independent; it is widened by `customer_design_effect` of the orders'
    contributions to the difference. The interval and the test both use Student's t with
    one degree of freedom less than the customers of the smaller group (as cluster-robust
    tests do; the normal curve would be too sure of a holdout of a few dozen customers and
    flag about one null rule in eighteen instead of one in twenty), so the interval
    excludes 0 exactly when p < 0.05. Groups need two orders each.

    >>> result = clustered_difference([1, 0, 0, 0, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0, 0, 0], range(8))
    >>> round(result.difference, 3), round(result.low, 3), round(result.high, 3)
    (-0.5, -1.625, 0.625)
    """
    y = np.asarray(values, dtype=np.float64)
    x = np.asarray(treated, dtype=bool)
    customers = np.asarray(customer)
    n1, n0 = int(x.sum()), int((~x).sum())
    if n1 < 2 or n0 < 2:
        return Difference(NAN, NAN, NAN, NAN)
    mean1, mean0 = float(y[x].mean()), float(y[~x].mean())
    contributions = np.where(
        x, (y - mean1) / math.sqrt(n1 * (n1 - 1)), -(y - mean0) / math.sqrt(n0 * (n0 - 1))
    )
    model = float((contributions**2).sum())
    design_effect = customer_design_effect(contributions, customers, model)
    difference = mean1 - mean0
    if model <= 0:
        return Difference(difference, NAN, NAN, NAN, design_effect)
    spread = math.sqrt(model * design_effect)
    freedom = max(min(len(np.unique(customers[x])), len(np.unique(customers[~x]))) - 1, 1)
    p_value = float(2 * stats.t.sf(abs(difference) / spread, freedom))
    margin = float(stats.t.ppf(0.5 + CONFIDENCE / 2, freedom)) * spread
    return Difference(difference, difference - margin, difference + margin, p_value, design_effect)


def benjamini_hochberg(p_values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """BH-adjusted p-values (q-values); NaN stays NaN and is not counted as a test."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, NAN)
    tested = ~np.isnan(p)
    if tested.any():
        adjusted[tested] = stats.false_discovery_control(p[tested], method="bh")
    return adjusted
