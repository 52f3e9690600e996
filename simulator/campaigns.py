"""Which campaign a touch belongs to on a given day, and what an attributed order inherits.

Campaigns recur on MM-DD windows, so the active set per channel is resolved once per day of
the window and shared between days with the same set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from simulator.calendar import Calendar, covers
from simulator.config import CampaignConfig, MarketingConfig
from simulator.sampling import Weighted


@dataclass(frozen=True, slots=True)
class Campaign:
    campaign_id: str
    channel: str
    discount_pct: str | None  # as written on the wire, e.g. "12.5"
    discount_fraction: float
    promo_code: str | None
    return_effect: float  # channel effect + campaign uplift, for orders attributed to it
    conversion_prob: float


def _wire_pct(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _active(config: CampaignConfig, when: date) -> bool:
    if config.active_from is None or config.active_to is None:
        return True
    return covers(config.active_from, config.active_to, when)


@dataclass(frozen=True, slots=True)
class CampaignSchedule:
    by_channel: dict[str, tuple[Weighted[Campaign] | None, ...]]  # channel -> per-day table

    def pick(self, channel: str, day: int, rng: random.Random) -> Campaign | None:
        table = self.by_channel[channel][day]
        return table.pick(rng) if table is not None else None


def build_schedule(config: MarketingConfig, calendar: Calendar) -> CampaignSchedule:
    campaigns = [
        (
            c,
            Campaign(
                campaign_id=c.id,
                channel=c.channel,
                discount_pct=_wire_pct(c.discount_pct) if c.discount_pct is not None else None,
                discount_fraction=(c.discount_pct or 0.0) / 100.0,
                promo_code=c.promo_code,
                return_effect=config.channels[c.channel].return_effect + c.return_uplift,
                conversion_prob=config.channels[c.channel].conversion_prob,
            ),
        )
        for c in config.campaigns
    ]
    by_channel: dict[str, tuple[Weighted[Campaign] | None, ...]] = {}
    for channel in config.channels:
        tables: dict[tuple[str, ...], Weighted[Campaign] | None] = {}
        days = []
        for offset in range(calendar.days):
            when = calendar.start + timedelta(days=offset)
            active = [(c, rt) for c, rt in campaigns if c.channel == channel and _active(c, when)]
            key = tuple(c.id for c, _ in active)
            if key not in tables:
                tables[key] = (
                    Weighted.from_pairs((rt, c.weight) for c, rt in active) if active else None
                )
            days.append(tables[key])
        by_channel[channel] = tuple(days)
    return CampaignSchedule(by_channel)
