"""Last-touch attribution: priority, window edges, and equality with the features' rule."""

from __future__ import annotations

import pytest

from analytics.attribution import Touch, TouchIndex
from analytics.segmentation import MISSING
from features.units import DAY, epoch
from schemas import CampaignTouch, InputEvent
from tests.analytics.logs import tables_of
from tests.fixtures.histories import random_history
from tests.fixtures.typed_events import at, order, touch


def _index(*touches: CampaignTouch) -> TouchIndex:
    index = TouchIndex()
    for event in touches:
        index.add(event)
    index.freeze()
    return index


def _last(index: TouchIndex, when: float, window: float = 7) -> Touch | None:
    return index.last_touch("c1", epoch(at(when)), window)


def test_click_beats_open_beats_impression_whatever_the_order() -> None:
    index = _index(
        touch(at(1), "email", "click", campaign="clicked"),
        touch(at(2), "sms", "open", campaign="opened"),
        touch(at(3), "display", "impression", campaign="seen"),
    )
    chosen = _last(index, 4)
    assert chosen is not None and (chosen.campaign, chosen.channel) == ("clicked", "email")
    without_click = _index(
        touch(at(2), "sms", "open", campaign="opened"), touch(at(3), "display", "impression")
    )
    chosen = _last(without_click, 4)
    assert chosen is not None and (chosen.campaign, chosen.action) == ("opened", "open")


def test_the_latest_touch_of_the_best_action_wins() -> None:
    index = _index(
        touch(at(1), "email", "click", campaign="older"),
        touch(at(2), "paid_social", "click", campaign="newer"),
        touch(at(3), "email", "open", campaign="open"),
    )
    chosen = _last(index, 4)
    assert chosen is not None and chosen.campaign == "newer"


@pytest.mark.parametrize(
    ("touch_day", "window", "attributed"),
    [
        (3.0, 7, True),  # exactly `window` days before the order: in
        (3.0 - 1 / DAY, 7, False),  # one second earlier: out
        (10.0, 7, False),  # at the order's own second: not before it, out
        (10.0 - 1 / DAY, 7, True),  # a second before: in
        (8.0, 2, True),  # another window
        (7.5, 2, False),
    ],
)
def test_window_edges(touch_day: float, window: float, attributed: bool) -> None:
    index = _index(touch(at(touch_day), "email", "click"))
    assert (_last(index, 10, window) is not None) is attributed


def test_no_touches_no_attribution() -> None:
    assert _last(_index(), 1) is None
    assert _index(touch(at(0), "email", customer="c2")).last_touch("c1", epoch(at(1)), 7) is None


def _orders_with_feature_attribution(events: list[InputEvent]) -> list[tuple[object, ...]]:
    tables = tables_of(events, segment_by=["last_touch_channel", "last_touch_campaign"])
    orders = tables.orders.fillna({"touch_channel": MISSING, "touch_campaign": MISSING})
    return list(
        orders[
            ["touch_channel", "by:last_touch_channel", "touch_campaign", "by:last_touch_campaign"]
        ].itertuples(index=False)
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seven_days_is_the_features_last_touch_on_random_histories(seed: int) -> None:
    rows = _orders_with_feature_attribution(random_history(customers=8, days=90, seed=seed))
    assert rows
    for channel, feature_channel, campaign, feature_campaign in rows:
        assert (channel, campaign) == (feature_channel, feature_campaign)


def test_seven_days_is_the_features_last_touch_on_a_simulated_log(
    small_events: list[InputEvent],
) -> None:
    rows = _orders_with_feature_attribution(small_events)
    attributed = [r for r in rows if r[0] != MISSING]
    assert len(attributed) > 100
    assert all((r[0], r[2]) == (r[1], r[3]) for r in rows)


def test_orders_without_touches_in_the_window_are_unattributed() -> None:
    events: list[InputEvent] = [
        touch(at(0), "email", "click", campaign="old"),
        order(at(20), "o1"),
    ]
    tables = tables_of(events)
    assert tables.orders["touch_campaign"].isna().all()
