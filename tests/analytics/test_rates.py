"""Rates, reasons, types, timing, condition and trend on the hand-built log (conftest)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from analytics import rates
from analytics.dataset import Selection, Tables
from tests.analytics.logs import known_events, tables_of


def _row(table: pd.DataFrame, group: str) -> pd.Series:
    return table.set_index("group").loc[group]


def test_rates_frequency_and_customer_share(known: Tables) -> None:
    table = rates.return_rates(known, "segment")
    assert list(table["group"]) == ["(all)", "new"]  # c1 and c2 are new in every order
    row = _row(table, "(all)")
    assert (row["orders"], row["customers"], row["items_bought"]) == (3, 2, 8)
    assert row["items_returned"] == 3
    assert row["item_return_rate"] == pytest.approx(3 / 8)
    assert row["returned_orders"] == 2
    assert row["order_return_rate"] == pytest.approx(2 / 3)
    assert row["order_return_rate_ci_low"] < 2 / 3 < row["order_return_rate_ci_high"]
    assert row["commercial_requests"] == 3
    assert row["returns_per_customer"] == pytest.approx(1.5)
    assert row["returning_customer_share"] == pytest.approx(1.0)


def test_rates_per_attribute_group(known: Tables) -> None:
    table = rates.return_rates(known, "country")
    de, fr = _row(table, "DE"), _row(table, "FR")
    assert (de["orders"], de["items_bought"], de["items_returned"]) == (2, 4, 2)
    assert de["order_return_rate"] == pytest.approx(1 / 2)
    assert (fr["orders"], fr["item_return_rate"], fr["returns_per_customer"]) == (1, 0.25, 1.0)


def test_value_rates_are_per_currency(known: Tables) -> None:
    table = rates.value_rates(known, "segment")
    everyone = table[table["group"] == "(all)"].set_index("currency")
    assert everyone.loc["EUR", "value_bought"] == pytest.approx(160.0)
    assert everyone.loc["EUR", "value_returned"] == pytest.approx(100.0)
    assert everyone.loc["EUR", "value_return_rate"] == pytest.approx(100 / 160)
    assert everyone.loc["GBP", "value_return_rate"] == pytest.approx(10 / 40)
    assert everyone.loc["GBP", "orders"] == 1


def test_reasons_count_the_counted_items(known: Tables) -> None:
    row = _row(rates.reason_mix(known, "segment"), "(all)")
    assert row["returned_items"] == 3
    for reason in ("size_too_small", "size_too_large", "changed_mind"):
        assert row[f"{reason}_share"] == pytest.approx(1 / 3)
    assert "defective_share" not in row.index  # only a service return gave it


def test_return_type_mix_counts_every_type(known: Tables) -> None:
    row = _row(rates.return_type_mix(known, "segment"), "(all)")
    assert (row["requests"], row["commercial_requests"], row["service_requests"]) == (4, 3, 1)
    assert row["service_share"] == pytest.approx(0.25)
    assert (row["commercial_items"], row["service_items"]) == (4, 1)  # as requested


def test_days_to_return(known: Tables) -> None:
    row = _row(rates.days_to_return(known, "segment"), "(all)")
    assert row["commercial_requests"] == 3  # r1 day 5, r2 day 6, r4 day 8 - 3 = 5
    assert row["days_mean"] == pytest.approx(16 / 3)
    assert row["days_median"] == pytest.approx(5.0)


def test_received_condition_of_commercial_returns(known: Tables) -> None:
    row = _row(rates.received_condition(known, "country"), "DE")
    assert (row["received_items"], row["worn_items"], row["worn_share"]) == (1, 1, 1.0)
    assert _row(rates.received_condition(known, "segment"), "(all)")["as_new_share"] == 0.5


def test_weekly_trend_cohort_flow_and_complete_weeks(known: Tables) -> None:
    trend = rates.weekly_trend(known, "segment")
    everyone = trend[trend["group"] == "(all)"].set_index("week")
    # 2025-01-01 is a Wednesday: o1 (Jan 1) and o3 (Jan 4) in the week of Mon Dec 30.
    first = everyone.loc[date(2024, 12, 30)]
    assert (first["orders"], first["items_bought"], first["items_returned"]) == (2, 7, 3)
    assert first["item_return_rate"] == pytest.approx(3 / 7)
    # r1 (Jan 6), r2 (Jan 7), r4 (Jan 9) are requested in the week of Jan 6, with o2.
    second = everyone.loc[date(2025, 1, 6)]
    assert (second["orders"], second["items_requested_that_week"]) == (1, 3)
    assert second["requested_to_sold_ratio"] == pytest.approx(3.0)
    # the log runs Dec 31 .. Jan 21: only the weeks of Jan 6 and Jan 13 are whole
    assert not first["complete_week"] and second["complete_week"]


def test_nothing_to_count_gives_empty_tables_not_errors() -> None:
    """From Jan 11 only o2 is selected, and it only had a service return."""
    tables = tables_of(known_events(), selection=Selection(start=date(2025, 1, 11)))
    assert list(tables.orders["order_id"]) == ["o2"]
    for table in (
        rates.reason_mix(tables, "segment"),
        rates.days_to_return(tables, "segment"),
        rates.received_condition(tables, "segment"),
    ):
        assert table.empty and table.columns[0] == "group"
    assert _row(rates.return_type_mix(tables, "segment"), "(all)")["service_requests"] == 1
