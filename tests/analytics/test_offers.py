"""Offer rules against their holdout (analytics/offers.py): which orders are measured, what
counts after an offer, and that the flags find a planted effect and not noise.

`offer_log` builds a log with offers and a planted effect; the CLI test uses it too.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics.dataset import Selection
from analytics.offers import (
    MIN_GROUP_ORDERS,
    RETURN_RATE,
    LogOrders,
    OfferCounts,
    OfferTables,
    compare,
    offer_tables,
)
from schemas import InputEvent, OrderPlaced, ReturnRequested
from schemas.offer_log import OffersFileError, read_offers
from schemas.outputs import Offer
from tests.analytics.logs import tables_of
from tests.fixtures.typed_events import at, line, order, return_request


def make_offer(
    source: OrderPlaced | ReturnRequested,
    rule: str,
    *,
    held_out: bool = False,
    with_order_id: bool = True,
    offer_id: str | None = None,
) -> Offer:
    """The record the worker writes for `source` (event time, no processing time)."""
    return Offer.model_validate(
        {
            "offer_id": offer_id or f"{rule}:{source.event_id}",
            "offer_type": "size_guidance",
            "customer_id": source.customer_id,
            "segment": "default",
            "band": "medium",
            "rule": rule,
            "source_event_id": source.event_id,
            "created_at": source.occurred_at,
            "expires_at": source.occurred_at + timedelta(days=14),
            "order_id": source.order_id if with_order_id else None,
            "held_out": held_out,
        },
        strict=False,
    )


def offer_log(
    seed: int,
    *,
    customers: int = 300,
    treated_rate: float = 0.10,
    held_out_rate: float = 0.30,
    holdout: float = 0.3,
    rule: str = "r1",
) -> tuple[list[InputEvent], list[Offer]]:
    """Customers with one or two orders over 120 days, each order offered by `rule`; a
    customer is held out with probability `holdout`, and each order comes back (one
    commercial request, days later) at its group's rate."""
    rng = random.Random(seed)
    events: list[InputEvent] = []
    offers = []
    for number in range(customers):
        customer = f"{rule}-c{number}"
        held_out = rng.random() < holdout
        rate = held_out_rate if held_out else treated_rate
        for k in range(rng.randint(1, 2)):
            day = rng.uniform(0, 120)
            placed = order(at(day), f"{customer}-o{k}", line("a-1", "40.00"), customer=customer)
            events.append(placed)
            offers.append(make_offer(placed, rule, held_out=held_out))
            if rng.random() < rate:
                when = at(day + rng.uniform(1, 20))
                reason = ("a-1", 1, "size_too_small")
                events.append(return_request(when, placed.order_id, reason, customer=customer))
    return sorted(events, key=lambda e: e.occurred_at), offers


def measure(events: list[InputEvent], offers: list[Offer], **selection: object) -> OfferTables:
    tables = tables_of(events, selection=Selection(**selection))  # type: ignore[arg-type]
    return offer_tables(offers, LogOrders.from_events(events), tables)


def clustered_units(
    seed: int, *, treated_rate: float, held_out_rate: float, customers: int = 300
) -> pd.DataFrame:
    """Measured orders without a log: 1-4 orders per customer, 30 % of customers held out,
    each customer with their own return propensity (beta around the group's rate), so one
    customer's orders are alike and only a clustered interval holds its level."""
    rng = np.random.default_rng(seed)
    held_out = rng.random(customers) < 0.3
    mean = np.where(held_out, held_out_rate, treated_rate)
    propensity = rng.beta(5 * mean, 5 * (1 - mean))
    customer = np.repeat(np.arange(customers), rng.integers(1, 5, customers))
    returned = rng.random(len(customer)) < propensity[customer]
    return pd.DataFrame(
        {
            "rule": "r1",
            "currency": "EUR",
            "customer_id": [f"c{c}" for c in customer],
            "held_out": held_out[customer],
            "returned": returned.astype(np.float64),
            "returned_value": returned * rng.gamma(2.0, 25.0, len(customer)),
            "repurchased": (rng.random(len(customer)) < 0.4).astype(np.float64),
        }
    )


def _row(frame: pd.DataFrame, rule: str) -> pd.Series:
    return frame.set_index("rule").loc[rule]


# What is measured, on a hand-built log -------------------------------------------------------


@pytest.fixture
def hand_built() -> OfferTables:
    """c1: o1 (day 0, 2 x a at 50.00) offered at once by `at-order`; return requests q1 (day
    5, 1 x a) and q2 (day 8, 2 x a: only one more counts); `at-return` offers on q1 (record
    without order_id) and again on q2; o2 (day 30) offered by `at-order`. c2: o4 (day 2)
    held out of `at-order`; o3 (day 100, after the report's --to, the log's last event)
    offered too. Plus a record delivered twice and one for an order the log lacks."""
    o1 = order(at(0), "o1", line("a-1", "50.00", 2))
    o4 = order(at(2), "o4", line("a-1", "50.00"), customer="c2")
    q1 = return_request(at(5), "o1", ("a-1", 1, "size_too_small"))
    q2 = return_request(at(8), "o1", ("a-1", 2, "size_too_large"))
    o2 = order(at(30), "o2", line("a-1", "50.00"))
    o3 = order(at(100), "o3", line("a-1", "50.00"), customer="c2")
    ghost = order(at(40), "ghost", line("a-1", "50.00"))  # not in the log
    first = make_offer(o1, "at-order")
    offers = [
        first,
        first,  # delivered twice
        make_offer(o4, "at-order", held_out=True),
        make_offer(q1, "at-return", with_order_id=False),
        make_offer(q2, "at-return"),  # the same order again: measured from q1's offer
        make_offer(o2, "at-order"),
        make_offer(o3, "at-order"),
        make_offer(ghost, "at-order"),
    ]
    return measure([o1, o4, q1, q2, o2, o3], offers, end=at(50).date())


def test_every_record_is_accounted_for(hand_built: OfferTables) -> None:
    assert hand_built.counts == OfferCounts(
        records=8,
        duplicate_records=1,
        offers=7,
        unknown_order=1,
        order_not_in_report=1,
        repeat_offers=1,
        measured_orders=4,
        repurchase_window_past_log_end=1,
    )
    rules = hand_built.rules.set_index("rule")
    assert rules.loc["at-order", ["offers", "orders", "held_out_orders"]].tolist() == [5, 3, 1]
    assert rules.loc["at-return", ["offers", "orders", "held_out_orders"]].tolist() == [2, 1, 0]


def test_only_returns_after_the_offer_count_with_the_analytics_values(
    hand_built: OfferTables,
) -> None:
    at_order = _row(hand_built.return_rate, "at-order")
    assert at_order[["treated_orders", "treated_returned_orders"]].tolist() == [2, 1]
    assert at_order[["held_out_orders", "held_out_returned_orders"]].tolist() == [1, 0]
    value = hand_built.returned_value.set_index(["rule", "currency"])
    # o1 after day 0: q1 and q2 count one item each (50.00 + 50.00); o2 nothing.
    assert value.loc[("at-order", "EUR"), "treated_returned_value"] == pytest.approx(50.0)
    # From q1's offer (day 5) on, q2 counts: the item q1 asked back is not counted twice.
    at_return = value.loc[("at-return", "EUR")]
    assert at_return[["treated_orders", "treated_returned_value"]].tolist() == [1, 50.0]
    assert _row(hand_built.return_rate, "at-return")["treated_return_rate"] == 1.0


def test_repurchase_looks_90_days_ahead_and_leaves_out_what_the_log_cannot_see(
    hand_built: OfferTables,
) -> None:
    at_order = _row(hand_built.repurchase, "at-order")
    # o1 (o2 on day 30: repurchased), o4 (o3 on day 100 is 98 days later: not), o2 left out.
    assert at_order["left_out_past_log_end"] == 1
    assert at_order[["treated_orders", "treated_repurchased_orders"]].tolist() == [1, 1]
    assert at_order[["held_out_orders", "held_out_repurchased_orders"]].tolist() == [1, 0]


def test_small_groups_are_shown_and_say_why_they_are_not_tested(hand_built: OfferTables) -> None:
    for frame in hand_built.metrics().values():
        assert not frame["tested"].any() and not frame["flagged"].any()
        assert frame["q_value"].isna().all()
        assert frame["why_not_tested"].str.startswith("too few orders").all()
    assert hand_built.flagged().empty


# The statistics: a planted effect is found, no effect is not ---------------------------------


def test_a_planted_effect_lies_in_the_interval_and_is_flagged() -> None:
    events, offers = offer_log(1, treated_rate=0.10, held_out_rate=0.30)
    row = _row(measure(events, offers).return_rate, "r1")
    assert row["held_out_orders"] >= MIN_GROUP_ORDERS
    low, high = row["return_rate_difference_ci_low"], row["return_rate_difference_ci_high"]
    assert low <= -0.20 <= high and high < 0
    assert row["tested"] and row["flagged"] and row["q_value"] < 0.05
    assert row["orders"] == row["treated_orders"] + row["held_out_orders"]


def test_a_redelivered_offer_counts_once() -> None:
    events, offers = offer_log(2, customers=120)
    once = measure(events, offers)
    twice = measure(events, offers + offers[:50])
    assert twice.counts.duplicate_records == 50
    pd.testing.assert_frame_equal(once.return_rate, twice.return_rate)
    pd.testing.assert_frame_equal(once.rules, twice.rules)


def test_a_tiny_group_is_never_flagged_however_large_its_difference() -> None:
    events, offers = offer_log(3, customers=40, treated_rate=0.05, held_out_rate=0.9)
    row = _row(measure(events, offers).return_rate, "r1")
    assert row["held_out_orders"] < MIN_GROUP_ORDERS
    assert row["return_rate_difference"] < -0.5 and row["p_value"] < 0.05
    assert not row["tested"] and not row["flagged"] and np.isnan(row["q_value"])
    assert "too few orders" in row["why_not_tested"]


def test_offer_ids_found_only_through_the_source_event_measure_the_same() -> None:
    events, offers = offer_log(4, customers=100)
    without = [o.model_copy(update={"order_id": None}) for o in offers]
    pd.testing.assert_frame_equal(
        measure(events, offers).return_rate, measure(events, without).return_rate
    )


def test_a_planted_effect_in_clustered_orders_is_found() -> None:
    units = clustered_units(0, treated_rate=0.10, held_out_rate=0.30)
    row = _row(compare(units, RETURN_RATE), "r1")
    assert row["design_effect"] > 1.0
    assert row["return_rate_difference_ci_low"] <= -0.20 <= row["return_rate_difference_ci_high"]
    assert row["flagged"]


def test_without_an_effect_a_rule_is_rarely_flagged_over_20_seeds() -> None:
    """Whole logs where treated and held-out orders come back alike (20 %). A correct 5 %
    test flags 0 or 1 of 20 seeds only 74 % of the time (binomial), so the bound is 3 (a
    correct test exceeds it in 1.6 % of seed sets); the level itself is checked over
    1,000 holdouts in test_stats (`test_clustered_difference_holds_its_level_...`)."""
    flagged = 0
    for seed in range(20):
        events, offers = offer_log(
            seed, customers=100, treated_rate=0.2, held_out_rate=0.2, holdout=0.5
        )
        row = _row(measure(events, offers).return_rate, "r1")
        assert row["tested"], row["why_not_tested"]
        flagged += bool(row["flagged"])
    assert flagged <= 3


def test_benjamini_hochberg_runs_over_the_tested_rules_of_one_metric() -> None:
    rules = [
        clustered_units(seed, treated_rate=0.2, held_out_rate=0.2).assign(rule=f"r{seed}")
        for seed in range(4)
    ]
    tiny = clustered_units(9, treated_rate=0.2, held_out_rate=0.2, customers=20)
    table = compare(pd.concat([*rules, tiny.assign(rule="tiny")], ignore_index=True), RETURN_RATE)
    tested = table[table["tested"]]
    assert sorted(tested["rule"]) == ["r0", "r1", "r2", "r3"]
    expected = stats.false_discovery_control(tested["p_value"].to_numpy(), method="bh")
    np.testing.assert_allclose(tested["q_value"], expected)
    assert np.isnan(_row(table, "tiny")["q_value"])


# The offers file ----------------------------------------------------------------------------


def test_read_offers_names_the_file_and_line_of_a_bad_record(tmp_path: Path) -> None:
    _, offers = offer_log(5, customers=3)
    path = tmp_path / "offers.jsonl"
    path.write_text(offers[0].model_dump_json() + "\n\n" + '{"offer_id": "x"}\n', encoding="utf-8")
    with pytest.raises(OffersFileError, match=r"offers\.jsonl: line 3: not an offer record"):
        read_offers(path)
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(OffersFileError, match="no offer record"):
        read_offers(path)
    path.write_text("".join(o.model_dump_json() + "\n" for o in offers), encoding="utf-8")
    assert read_offers(path) == offers
