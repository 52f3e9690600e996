"""Last-touch attribution: which campaign touch an order is credited to.

The rule is the features' `last_touch_*` rule (features/vector.py), with the window as a
parameter: among the customer's touches in [order time - window, order time), the click wins
over the open and the open over the impression; among touches of the same action the latest
wins, and a tie in time is broken by the event-id hash. With the default 7 days every order
gets exactly the features' `last_touch_channel` and `last_touch_campaign` (a test proves it),
so "attributed to campaign X" means what a model reading that feature sees.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from typing import NamedTuple

from features.state import event_hash
from features.units import DAY, epoch
from schemas import CampaignTouch
from schemas.common import TouchAction

logger = logging.getLogger(__name__)

ACTION_PRIORITY: dict[TouchAction, int] = {
    TouchAction.CLICK: 2,
    TouchAction.OPEN: 1,
    TouchAction.IMPRESSION: 0,
}


class Touch(NamedTuple):
    at: int
    priority: int
    event_id: str
    campaign: str
    channel: str
    action: str


def _rank(touch: Touch) -> tuple[int, int, int]:
    return touch.priority, touch.at, event_hash(touch.event_id)


class TouchIndex:
    """Every customer's touches in time order, to attribute orders in any order."""

    def __init__(self) -> None:
        self._touches: dict[str, list[Touch]] = {}
        self._times: dict[str, list[int]] = {}

    def add(self, event: CampaignTouch) -> None:
        touch = Touch(
            epoch(event.occurred_at),
            ACTION_PRIORITY[event.action],
            event.event_id,
            event.campaign_id,
            event.channel,  # StrEnum: compares and prints as its value
            event.action,
        )
        self._touches.setdefault(event.customer_id, []).append(touch)

    def freeze(self) -> None:
        """Sort each customer's touches (logs are nearly sorted: this is cheap)."""
        for customer, touches in self._touches.items():
            touches.sort()
            self._times[customer] = [touch.at for touch in touches]

    def last_touch(self, customer_id: str, at: int, window_days: float) -> Touch | None:
        """The touch an order placed at `at` (epoch seconds) is attributed to, if any."""
        times = self._times.get(customer_id)
        if not times:
            return None
        first = bisect_left(times, at - window_days * DAY)
        last = bisect_left(times, at, lo=first)
        if first == last:
            return None
        return max(self._touches[customer_id][first:last], key=_rank)
