"""Campaign and channel flags: a planted uplift is found, a world without marketing effects
flags nothing (beyond the false-positive rate), small groups are never flagged, and seasons
are not mistaken for campaigns.

Sizes: 2,000 simulated customers over a year give ~6,700 orders and ~250 orders per
mid-sized campaign; an uplift of +1.5 on the return log-odds then sits ~8 standard errors
out, while the null runs have nothing to find. Seeds are fixed, so the outcome is the same
on every run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from analytics.dataset import Tables, read_events
from analytics.marketing import MIN_TESTED_ORDERS, NO_TOUCH, marketing_tables
from features.replay import paused_gc
from simulator.config import DEFAULT_CONFIG, NO_MARKETING_EFFECTS_CONFIG, load_config
from tests.analytics.logs import SimulateLog, tables_of

PLANTED = "search-generic"
"""A paid-search campaign: no channel effect and no discount in the default world."""
UPLIFT = 1.5
CUSTOMERS = 2_000
NULL_SEEDS = (31, 32, 33, 34)


def _planted_config(base: Path, folder: Path) -> Path:
    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    (campaign,) = [c for c in data["marketing"]["campaigns"] if c["id"] == PLANTED]
    campaign["return_uplift"] = UPLIFT
    path = folder / f"planted-{base.name}"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _tables(log: Path) -> Tables:
    with paused_gc():  # as the report does: three times faster
        events, invalid = read_events(log)
        assert not invalid
        return tables_of(events)


@pytest.mark.parametrize(
    "base", [DEFAULT_CONFIG, NO_MARKETING_EFFECTS_CONFIG], ids=["default", "null"]
)
def test_a_planted_campaign_uplift_is_flagged(
    base: Path, simulate_log: SimulateLog, tmp_path: Path
) -> None:
    config = load_config(_planted_config(base, tmp_path))
    marketing = marketing_tables(
        _tables(simulate_log(customers=CUSTOMERS, days=365, seed=21, config=config))
    )
    campaigns = marketing.campaigns.set_index("name")
    planted = campaigns.loc[PLANTED]
    assert planted["tested"] and planted["flagged"]
    assert planted["lift"] > 1.3 and planted["q_value"] < 1e-3
    if base == NO_MARKETING_EFFECTS_CONFIG:
        # Nothing else has an effect in this world: every flag is about the planted campaign.
        flagged = marketing.flagged()
        assert set(flagged.loc[flagged["level"] != "channel", "name"]) == {PLANTED}
        assert set(flagged.loc[flagged["level"] == "channel", "name"]) <= {"paid_search"}


def test_without_marketing_effects_nothing_is_flagged_beyond_the_false_positive_rate(
    simulate_log: SimulateLog,
) -> None:
    """BH at 5 % keeps the chance of any flag in a world with no effects near 5 % per log
    (1 log in 30 in a longer run of this test): of four logs, at most one may show a flag."""
    config = load_config(NO_MARKETING_EFFECTS_CONFIG)
    flagged_logs = 0
    p_values: list[float] = []
    for seed in NULL_SEEDS:
        log = simulate_log(customers=CUSTOMERS, days=365, seed=seed, config=config)
        marketing = marketing_tables(_tables(log))
        flagged_logs += int(not marketing.flagged().empty)
        for frame in (marketing.channels, marketing.campaigns, marketing.campaign_segments):
            p_values += list(frame.loc[frame["tested"], "p_value"])
    assert len(p_values) > 150  # enough tests ran for "no flag" to mean something
    assert flagged_logs <= 1


def _orders(weeks: list[tuple[str, int, str | None, bool]]) -> pd.DataFrame:
    """Orders from (day, count, campaign, returned) blocks; one segment, customer type and
    tier, and one customer per order."""
    rows = []
    for day, count, campaign, returned in weeks:
        for n in range(count):
            order_id = f"{day}-{campaign}-{returned}-{n}"
            rows.append(
                {
                    "order_id": order_id,
                    "customer_id": order_id,
                    "at": int(pd.Timestamp(day, tz="UTC").timestamp()),
                    "segment": "active",
                    "customer_type": "returning",
                    "loyalty_tier": "none",
                    "touch_channel": "email" if campaign else None,
                    "touch_campaign": campaign,
                    "returned": returned,
                }
            )
    return pd.DataFrame(rows)


def _tables_with(orders: pd.DataFrame) -> Tables:
    tables = tables_of([])
    tables.orders = orders
    return tables


def test_a_campaign_that_only_runs_in_a_high_return_week_is_not_flagged() -> None:
    """Untouched orders: 20 % return in January, 60 % in the Black Friday week. The campaign
    only has Black Friday orders, returning 60 %: crude lift 1.5, real lift 1."""
    orders = _orders(
        [
            ("2025-01-15", 40, None, True), ("2025-01-15", 160, None, False),
            ("2025-11-26", 120, None, True), ("2025-11-26", 80, None, False),
            ("2025-11-26", 120, "bf", True), ("2025-11-26", 80, "bf", False),
        ]
    )  # fmt: skip
    campaigns = marketing_tables(_tables_with(orders)).campaigns.set_index("name")
    assert campaigns.loc[NO_TOUCH, "return_rate"] == pytest.approx(0.4)
    bf = campaigns.loc["bf"]
    assert bf["return_rate"] == pytest.approx(0.6)
    assert bf["comparable_no_touch_rate"] == pytest.approx(0.6)
    assert bf["lift"] == pytest.approx(1.0)
    assert bf["tested"] and not bf["flagged"]


def test_small_groups_are_shown_but_never_flagged() -> None:
    small = MIN_TESTED_ORDERS - 1
    orders = _orders(
        [
            ("2025-03-05", 500, None, False), ("2025-03-05", 100, None, True),
            ("2025-03-05", small, "tiny", True),  # every order came back, but too few
            ("2025-03-05", 60, "big", True), ("2025-03-05", 40, "big", False),
        ]
    )  # fmt: skip
    campaigns = marketing_tables(_tables_with(orders)).campaigns.set_index("name")
    tiny, big = campaigns.loc["tiny"], campaigns.loc["big"]
    assert tiny["orders"] == small and tiny["p_value"] < 1e-10
    assert not tiny["tested"] and not tiny["flagged"] and pd.isna(tiny["q_value"])
    assert big["tested"] and big["flagged"]


def test_less_returns_than_untouched_orders_is_never_flagged() -> None:
    orders = _orders(
        [
            ("2025-03-05", 300, None, True), ("2025-03-05", 300, None, False),
            ("2025-03-05", 10, "calm", True), ("2025-03-05", 290, "calm", False),
        ]
    )  # fmt: skip
    calm = marketing_tables(_tables_with(orders)).campaigns.set_index("name").loc["calm"]
    assert calm["lift"] < 0.1 and calm["p_value"] > 0.99 and not calm["flagged"]
