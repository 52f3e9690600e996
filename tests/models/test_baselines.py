"""The customer-rate baseline is point in time: an order never sees a label not yet final."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from features.replay import HolidayReturns
from models.baselines import customer_rate, matured_history
from models.dataset import holiday_rule, label_closes_at, training_data
from tests.fixtures.trained_versions import SmallData

DAY = 86_400


def _at(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def test_a_label_counts_only_once_its_window_has_closed() -> None:
    # customer a: returned order on Mar 1 (window closes Mar 31), kept order on Mar 10
    # (closes Apr 9); customer b's returned order must never count for a
    customers = ["a", "b", "a", "a", "a", "a"]
    placed = np.array(
        [_at(d) for d in ("2025-03-01", "2025-03-02", "2025-03-10", "2025-03-30", "2025-03-31",
                          "2025-04-09")]
    )  # fmt: skip
    label = np.array([1, 1, 0, 0, 0, 0])
    closes = placed + 30 * DAY
    matured, returned = matured_history(customers, placed, label, closes)
    # Mar 10 and Mar 30: the Mar 1 return is not final yet; Mar 31: it is (window closed at
    # that second); Apr 9: the Mar 10 order's window has closed too
    assert matured.tolist() == [0, 0, 0, 0, 1, 2]
    assert returned.tolist() == [0, 0, 0, 0, 1, 1]
    rate = customer_rate(customers, placed, label, closes, prior=0.2, weight=5.0)
    assert rate[3] == 0.2  # a return requested before Mar 30 is still unknown at Mar 30
    assert rate[4] == (1 + 5 * 0.2) / (1 + 5)
    assert rate[5] == (1 + 5 * 0.2) / (2 + 5)


def test_the_holiday_window_delays_maturity() -> None:
    placed = np.array([_at("2025-12-01"), _at("2025-06-01")])
    closes = label_closes_at(placed, 30, HolidayReturns())
    # Dec 1 is a holiday purchase: its label is final only after Jan 31 in every time zone
    assert closes[0] >= _at("2026-02-01") + 11 * 3600
    assert closes[1] == placed[1] + 30 * DAY
    customers = ["a", "a"]
    jan_15 = np.array([_at("2025-12-01"), _at("2026-01-15")])
    matured, _ = matured_history(customers, jan_15, np.array([1, 0]), label_closes_at(
        jan_15, 30, HolidayReturns()))  # fmt: skip
    assert matured.tolist() == [0, 0]  # 45 days later, but the holiday window is still open
    assert holiday_rule(b"none") is None
    assert holiday_rule(b"11-20..12-20->01-15") == HolidayReturns("11-20", "12-20", "01-15")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from("abcd"),
            st.integers(0, 200),
            st.integers(0, 1),
            st.integers(0, 60),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_matured_history_equals_a_brute_force_count(
    rows: list[tuple[str, int, int, int]],
) -> None:
    rows.sort(key=lambda r: r[1])
    customers = [r[0] for r in rows]
    placed = np.array([r[1] * DAY for r in rows], dtype=np.int64)
    label = np.array([r[2] for r in rows])
    closes = np.array([(r[1] + r[3]) * DAY for r in rows], dtype=np.int64)
    matured, returned = matured_history(customers, placed, label, closes)
    for i in range(len(rows)):
        past = [
            j for j in range(len(rows)) if customers[j] == customers[i] and closes[j] <= placed[i]
        ]
        assert matured[i] == len(past)
        assert returned[i] == sum(int(label[j]) for j in past)


def test_a_training_table_carries_its_label_closes(small_data: SmallData) -> None:
    data = small_data.data
    assert np.all(data.label_closes_at >= data.occurred_at + 30 * DAY)
    meta = dict(small_data.table.schema.metadata)
    meta[b"returnrisk.label_holiday_returns"] = b"none"
    plain = training_data(small_data.table.replace_schema_metadata(meta))
    assert np.array_equal(plain.label_closes_at, plain.occurred_at + 30 * DAY)
