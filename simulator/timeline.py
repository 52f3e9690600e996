"""One customer's events as (second, JSON line) pairs, plus the counts the summary reports.

Events are produced out of order (a return is decided when its order is placed), so they are
collected here and put in time order once the customer is done; `sort` is stable, so events
at the same second keep the order they were made in (profile before order, request before
receipt).
"""

from __future__ import annotations

import random
from operator import itemgetter

from simulator.calendar import Calendar
from simulator.events import event_id

EVENT_TYPES = (
    "customer_updated",
    "campaign_touch",
    "order_placed",
    "return_requested",
    "return_received",
)


class Timeline:
    __slots__ = (
        "calendar",
        "counts",
        "customer_id",
        "events",
        "items",
        "orders",
        "returned_items",
        "returned_orders",
        "rng",
    )

    def __init__(self, calendar: Calendar, customer_id: str, rng: random.Random) -> None:
        self.calendar = calendar
        self.customer_id = customer_id
        self.rng = rng
        self.events: list[tuple[int, str]] = []
        self.counts = dict.fromkeys(EVENT_TYPES, 0)
        self.orders = self.returned_orders = self.items = self.returned_items = 0

    def header(self, t: int) -> tuple[str, str]:
        """A fresh event id and the timestamp of second `t`."""
        return event_id(self.rng), self.calendar.stamp(t)

    def add(self, t: int, event_type: str, line: str) -> None:
        self.events.append((t, line))
        self.counts[event_type] += 1

    def absorb(self, other: Timeline) -> None:
        """Take `other`'s events and counts: events drawn with a generator of their own."""
        self.events.extend(other.events)
        for event_type, count in other.counts.items():
            self.counts[event_type] += count
        self.orders += other.orders
        self.returned_orders += other.returned_orders
        self.items += other.items
        self.returned_items += other.returned_items

    def in_order(self) -> list[tuple[int, str]]:
        self.events.sort(key=itemgetter(0))
        return self.events
