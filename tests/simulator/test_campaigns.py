"""Campaign schedule: recurring windows, weights, and what attributed orders inherit."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

from simulator.calendar import build_calendar
from simulator.campaigns import build_schedule
from simulator.config import SimulatorConfig


def test_seasonal_campaigns_run_only_in_their_window(default_config: SimulatorConfig) -> None:
    start = date(2025, 1, 1)
    calendar = build_calendar(default_config.seasonality, start, 365)
    schedule = build_schedule(default_config.marketing, calendar)
    rng = random.Random(0)

    def picks(day: date) -> Counter[str]:
        index = (day - start).days
        return Counter(
            c.campaign_id
            for _ in range(2000)
            if (c := schedule.pick("email", index, rng)) is not None
        )

    june, black_friday = picks(date(2025, 6, 1)), picks(date(2025, 11, 27))
    assert "email-black-friday" not in june
    assert black_friday.most_common(1)[0][0] == "email-black-friday"


def test_attributed_orders_inherit_channel_effect_plus_uplift(
    default_config: SimulatorConfig,
) -> None:
    calendar = build_calendar(default_config.seasonality, date(2025, 1, 1), 365)
    schedule = build_schedule(default_config.marketing, calendar)
    channels = default_config.marketing.channels
    haul = {
        c.campaign_id: c
        for table in schedule.by_channel["influencer"]
        if table is not None
        for c in table.items
    }["influencer-try-on-haul"]
    assert haul.return_effect == channels["influencer"].return_effect + 1.0
    assert haul.discount_pct == "20" and haul.discount_fraction == 0.2
    assert haul.promo_code == "HAUL20"
