"""The customer-rate baseline: what a returns team would score an order with, without a model.

`customer_rate` of an order is the customer's share of *past matured* orders that had a return
request, smoothed towards the training return rate:

    (returned + PRIOR_WEIGHT_ORDERS * prior) / (matured + PRIOR_WEIGHT_ORDERS)

where `matured` counts the customer's orders whose label window had closed at or before the
order's own time (so their label was final when it was placed), `returned` how many of them
were labelled returned, and `prior` is the return rate of the training rows. A first-time
buyer, or one whose orders are all still within their return window, gets the prior. The
window closes are the table's (`TrainingData.label_closes_at`): 30 days, or the end of the
holiday window, whichever is later.

>>> import numpy as np
>>> day = 86_400
>>> rate = customer_rate(
...     ["a", "a", "a"], np.array([0, 20 * day, 40 * day]), np.array([1, 0, 0]),
...     np.array([30 * day, 50 * day, 70 * day]), prior=0.5, weight=1.0)
>>> [round(float(r), 3) for r in rate]  # the first order's label is final from day 30
[0.5, 0.5, 0.75]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

PRIOR_WEIGHT_ORDERS = 5.0
"""Pseudo-orders at the prior rate added to every customer's history: a customer needs about
five matured orders before their own record outweighs the overall rate."""


def matured_history(
    customer_id: Sequence[str],
    occurred_at: npt.NDArray[np.int64],
    label: npt.NDArray[np.integer],
    closes_at: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """For each row: how many of its customer's orders had a closed label window at the row's
    time (`closes_at <= occurred_at`), and how many of those were returned.

    Vectorised: rows are keyed by (customer, moment) in one int64, so a sorted search over the
    closes of every order finds, per row, the customer's orders closed by then.
    """
    n = len(customer_id)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    _, code = np.unique(np.asarray(customer_id, dtype=object), return_inverse=True)
    code = code.astype(np.int64)
    origin = int(min(occurred_at.min(), closes_at.min()))
    span = int(max(occurred_at.max(), closes_at.max())) - origin + 1
    close_key = code * span + (closes_at - origin)
    order = np.argsort(close_key, kind="stable")
    sorted_keys = close_key[order]
    returned_before = np.concatenate(([0], np.cumsum(label[order].astype(np.int64))))
    first = np.searchsorted(sorted_keys, code * span, side="left")
    last = np.searchsorted(sorted_keys, code * span + (occurred_at - origin), side="right")
    return (last - first).astype(np.int64), (returned_before[last] - returned_before[first])


def customer_rate(
    customer_id: Sequence[str],
    occurred_at: npt.NDArray[np.int64],
    label: npt.NDArray[np.integer],
    closes_at: npt.NDArray[np.int64],
    prior: float,
    weight: float = PRIOR_WEIGHT_ORDERS,
) -> npt.NDArray[np.float64]:
    """Every row's smoothed share of its customer's past matured orders that were returned."""
    matured, returned = matured_history(customer_id, occurred_at, label, closes_at)
    rate: npt.NDArray[np.float64] = (returned + weight * prior) / (matured + weight)
    return rate


def definition(prior: float, weight: float = PRIOR_WEIGHT_ORDERS) -> str:
    """The baseline in words, for metrics.json and the report."""
    return (
        "customer's share of past orders with a return request, counting only orders whose "
        f"label window had closed by the scored order's time, smoothed: (returned + {weight:g} "
        f"x prior) / (matured + {weight:g}), prior = training return rate {prior:.4f}"
    )
