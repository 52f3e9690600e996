"""Campaign touches: impressions, opens and clicks per marketing channel.

Each channel is a Poisson process on the seasonal touch scale; an impression may be opened
(email, sms, push) and clicked. Clicks are returned because they drive and attribute orders.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulator import events
from simulator.calendar import DAY
from simulator.campaigns import Campaign
from simulator.customers import Customer
from simulator.timeline import Timeline
from simulator.world import World

_OPEN_DELAY_MEAN_S = 3 * 3600.0  # impression -> open: 1 minute + exponential
_CLICK_DELAY_MAX_S = 300  # open (or impression) -> click


@dataclass(frozen=True, slots=True)
class Click:
    t: int
    campaign: Campaign


def _touch(timeline: Timeline, t: int, campaign: Campaign, action: str) -> None:
    eid, at = timeline.header(t)
    line = events.campaign_touch(
        eid,
        at,
        timeline.customer_id,
        campaign_id=campaign.campaign_id,
        channel=campaign.channel,
        action=action,
        discount_pct=campaign.discount_pct,
    )
    timeline.add(t, "campaign_touch", line)


def simulate_touches(
    world: World, customer: Customer, rng: random.Random, first: int, timeline: Timeline
) -> list[Click]:
    """Emit every touch from second `first` on; return the clicks in time order."""
    calendar, schedule = world.calendar, world.schedule
    cum, end = calendar.touch_cum, calendar.end
    start_x, end_x = calendar.position(cum, first), cum[-1]
    clicks = []
    for name, channel in world.channels:
        rate = channel.touches_per_year
        if rate <= 0 or (channel.needs_opt_in and not customer.email_opt_in):
            continue
        x = start_x
        while True:
            x += rng.expovariate(rate)
            if x >= end_x:
                break
            t = max(calendar.time_at(cum, x), first)
            campaign = schedule.pick(name, t // DAY, rng)
            if campaign is None:
                continue
            _touch(timeline, t, campaign, "impression")
            if channel.open_prob > 0:
                if rng.random() >= channel.open_prob:
                    continue
                t += 60 + int(rng.expovariate(1.0 / _OPEN_DELAY_MEAN_S))
                if t >= end:
                    continue
                _touch(timeline, t, campaign, "open")
            if rng.random() < channel.click_prob:
                t += 5 + int(rng.random() * _CLICK_DELAY_MAX_S)
                if t < end:
                    _touch(timeline, t, campaign, "click")
                    clicks.append(Click(t, campaign))
    clicks.sort(key=lambda click: click.t)
    return clicks
