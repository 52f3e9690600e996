"""What every number in the report means, in words; printed in report.html and summary.json.

Kept in one place so the page, the JSON and the code's docstrings cannot disagree. Each
entry names the table columns it defines.
"""

from __future__ import annotations

from features.config import FeatureConfig


def definitions(config: FeatureConfig, min_tested_orders: int, fdr: float) -> dict[str, str]:
    """Every term, with the knobs in force (lifecycle thresholds, test size, FDR)."""
    return {
        "order": (
            "An order_placed event whose order time falls in the report period (--from/--to, UTC "
            "days, inclusive) and that matches --filter. An order sent twice under two event ids "
            "counts once."
        ),
        "segment": (
            "The first segment rule (--segments, default models/segments.yaml) that is true for "
            "the order's features as they were when it was placed, with the customer's profile "
            "attributes: the same rules, evaluator and point-in-time features as model training "
            "and the stream. A customer's orders can fall in different segments over time."
        ),
        "customer_type": (
            "From the feature lifecycle_stage at order time: new (no earlier order, or the first "
            f"one less than {config.lifecycle_new_days} days before); returning (stages active "
            f"and lapsed: no order for {config.lifecycle_lapsed_days}+ days, or fewer than "
            f"{config.lifecycle_loyal_orders_365d} orders in the last 365 days); loyal (at least "
            f"{config.lifecycle_loyal_orders_365d} orders in the last 365 days, the latest less "
            f"than {config.lifecycle_lapsed_days} days before). Features only know the log: "
            "early in a log, customers who bought before it still count as new."
        ),
        "returned order": (
            "An order for which at least one commercial return was requested, at any time in the "
            "log (also after --to). Orders placed shortly before the end of the log have had "
            "less time to come back."
        ),
        "order_return_rate": "Returned orders / orders; 95 % CI: Wilson score interval.",
        "item_return_rate": (
            "Items requested back on commercial returns / items bought. Per order and SKU, no "
            "more items count than the order bought (a repeated request counts once)."
        ),
        "value_return_rate": (
            "Net value of the items counted above (unit price x quantity minus the line discount, "
            "per unit) / net value bought; per currency, because the events carry no exchange "
            "rates."
        ),
        "returns_per_customer": (
            "Commercial return requests for the group's orders / distinct customers with an "
            "order in the group (return frequency)."
        ),
        "returning_customer_share": (
            "Distinct customers with at least one returned order in the group / distinct "
            "customers with an order in the group."
        ),
        "service and end-of-life returns": (
            "Warranty/repair (service) and take-back (end_of_life) returns say nothing about "
            "buying to send back; as in the features, they are kept apart: they never count in "
            "the rates above and only appear in the return type mix."
        ),
        "reasons": (
            "Share of each reason code among the counted items of commercial returns "
            "(n = those items)."
        ),
        "days_to_return": "Days from the order to each commercial return request for it.",
        "received condition": (
            "Condition of the items received back from commercial returns (return_received), "
            "as a share of those items."
        ),
        "weekly trend": (
            "Weeks start on Monday (UTC). Cohort: the item return rate of the orders placed "
            "that week. Flow: items requested back that week (of the report's orders) / items "
            "sold that week, where the returns after Christmas show up in January. Charts "
            "leave out partial weeks at either end of the period; the first weeks of a log "
            "lack the returns of orders placed before it."
        ),
        "attribution": (
            "Each order is credited to one campaign touch of its customer in the "
            "--attribution-window-days before it (up to, not including, the order time): a "
            "click beats an open, an open beats an impression, then the latest wins. With 7 "
            "days this is the features' last_touch_channel / last_touch_campaign. Orders "
            "without any touch in the window are the no-touch baseline."
        ),
        "lift": (
            "Mantel-Haenszel risk ratio of returned orders: the group's orders against no-touch "
            "orders of the same stratum (week, segment, customer type and loyalty tier at "
            "order time), pooled over strata, so that seasons and customer mix are compared "
            "like with like. 1.25 means 25 % more returns than comparable untouched orders. "
            "95 % CI: Greenland-Robins, widened by the design effect. "
            "comparable_no_touch_rate is the rate the group's orders would have had at the "
            "no-touch rate of their own stratum (the lift is close to return rate / that "
            "rate). comparable_orders: the group's orders in strata that also have no-touch "
            "orders; only they enter the lift."
        ),
        "design_effect": (
            "How much more the comparison varies because one customer's orders are alike "
            "(cluster-robust variance of the test score / its variance for independent "
            "orders, at least 1); the CI and the p-value are scaled by it."
        ),
        "p_value": (
            "One-sided Cochran-Mantel-Haenszel test (same strata, variance times the design "
            "effect) that the group's orders come back more often than comparable no-touch "
            "orders."
        ),
        "flagged": (
            f"Tested (at least {min_tested_orders} comparable orders; smaller groups are shown, "
            f"never flagged) and Benjamini-Hochberg adjusted p-value (q_value) at most {fdr}, "
            "over one family of all "
            "tested channel, campaign and campaign-in-segment rows; only excess return "
            "propensity is flagged."
        ),
    }


def offer_definitions(min_group_orders: int, fdr: float, repurchase_days: int) -> dict[str, str]:
    """The offers section's terms (only with --offers), with its knobs in force."""
    return {
        "offers: measured order": (
            "The order an offer record is about (its order_id; in older records without one, "
            "the order of its source event in the log: the order for order_placed rules, the "
            "returned order for return_requested rules), if it is one of the report's orders "
            "(period and --filter). A record delivered twice (same offer_id) counts once; an "
            "order counts once per rule, from that rule's first offer for it. Offers whose "
            "order is not in the log or not in the report are counted, not measured."
        ),
        "offers: treated / held_out": (
            "Held out: the record says held_out true; the customer is in the rule's random "
            "holdout (a hash of customer and rule) and was not made the offer. Treated: "
            "held_out false, the offer was made. The holdout assigns customers, so both "
            "groups are alike but for the offer: their difference is the offer's effect. "
            "held_out_share: held-out orders / measured orders of the rule."
        ),
        "offers: return_rate": (
            "Measured orders for which a commercial return was requested after the offer's "
            "created_at (strictly: for return_requested rules the request that triggered the "
            "offer does not count) and up to the end of the log, as for a returned order "
            "above / measured orders; 95 % CI of each group: Wilson."
        ),
        "offers: returned_value": (
            "Mean over measured orders of the net value of the items counted back (as in "
            "value_return_rate) on commercial requests after the offer's created_at; 0 for "
            "an order with none. Per currency of the order, in that currency."
        ),
        "offers: repurchase_rate": (
            "Measured orders whose customer placed another order (any order of the log, "
            f"also outside the period or --filter) within {repurchase_days} days after the "
            "offer's created_at / measured orders. Orders whose offer is less than "
            f"{repurchase_days} days before the last event of the log are left out of this "
            "metric only (left_out_past_log_end)."
        ),
        "offers: difference": (
            "Treated minus held-out value of the metric (rates in percentage points). 95 % CI "
            "and two-sided p-value: Welch's variance (each group's sample variance / its "
            "orders) multiplied by the design effect for repeat customers (as under "
            "design_effect, from each order's contribution to the difference), with Student's "
            "t at the customers of the smaller group minus 1 degrees of freedom; the CI "
            "excludes 0 exactly when p < 0.05."
        ),
        "offers: flagged": (
            f"Tested (at least {min_group_orders} treated and {min_group_orders} held-out "
            "orders measured, and some variation; otherwise why_not_tested says why and the "
            "row is never flagged) and Benjamini-Hochberg adjusted p-value (q_value) below "
            f"{fdr}, over one family: every tested rule of every metric (per currency for "
            "returned_value). Both directions are flagged: an offer that raises returns or "
            "lowers repurchase as well as one that helps."
        ),
    }
