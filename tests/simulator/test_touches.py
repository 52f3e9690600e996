"""Campaign touches: volumes per channel and the impression -> open -> click funnel."""

from __future__ import annotations

from collections import Counter
from typing import Any

from simulator.config import SimulatorConfig

OPENED_CHANNELS = {"email", "sms", "push"}


def _touches(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event_type"] == "campaign_touch"]


def test_touches_are_most_of_the_log(year_events: list[dict[str, Any]]) -> None:
    assert len(_touches(year_events)) > 0.8 * len(year_events)
    per_customer_year = len(year_events) / 3_000
    assert 40 < per_customer_year < 60


def test_funnel_narrows_and_only_messages_are_opened(year_events: list[dict[str, Any]]) -> None:
    actions = Counter((t["channel"], t["action"]) for t in _touches(year_events))
    channels = {channel for channel, _ in actions}
    assert len(channels) == 9
    for channel in channels:
        impressions, clicks = actions[channel, "impression"], actions[channel, "click"]
        assert impressions > clicks > 0
        if channel in OPENED_CHANNELS:
            assert impressions > actions[channel, "open"] > clicks
        else:
            assert actions[channel, "open"] == 0


def test_opt_in_channels_reach_only_opted_in_customers(
    year_events: list[dict[str, Any]],
) -> None:
    opted_in = {
        e["customer_id"]
        for e in year_events
        if e["event_type"] == "customer_updated" and e["email_opt_in"]
    }
    reached = {t["customer_id"] for t in _touches(year_events) if t["channel"] in OPENED_CHANNELS}
    assert reached <= opted_in


def test_touches_show_the_campaign_discount(
    year_events: list[dict[str, Any]], default_config: SimulatorConfig
) -> None:
    discount = {
        c.id: None if c.discount_pct is None else f"{c.discount_pct:g}"
        for c in default_config.marketing.campaigns
    }
    for touch in _touches(year_events):
        assert touch["discount_pct"] == discount[touch["campaign_id"]]
