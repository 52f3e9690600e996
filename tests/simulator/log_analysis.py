"""Reading a simulated log back into per-order facts, the way a stream consumer would.

Only what is on the wire is used (nothing from the simulator's internals), so the effect
tests check what a model or an analyst could actually find in the log.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass
class OrderFacts:
    order_id: str
    customer_id: str
    placed_at: datetime
    tier: str
    tenure_days: float
    lines: list[dict[str, Any]]
    campaign_id: str | None
    promo_code: str | None
    last_click_channel: str | None = None
    returned_units: dict[str, int] = field(default_factory=dict)
    return_reasons: dict[str, str] = field(default_factory=dict)

    @property
    def returned(self) -> bool:
        return bool(self.returned_units)

    @property
    def bracketed(self) -> bool:
        products = [line["product_id"] for line in self.lines]
        return len(products) != len(set(products))


def read_events(path: Path) -> list[dict[str, Any]]:
    with path.open("rb") as handle:
        return [orjson.loads(line) for line in handle]


def order_facts(events: list[dict[str, Any]], attribution_days: float) -> list[OrderFacts]:
    """One record per order, with the customer's tier, tenure and last click at order time."""
    profile: dict[str, dict[str, Any]] = {}
    clicks: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    orders: dict[str, OrderFacts] = {}
    window = timedelta(days=attribution_days)
    for event in events:
        kind, customer = event["event_type"], event["customer_id"]
        at = parse_time(event["occurred_at"])
        if kind == "customer_updated":
            profile[customer] = event
        elif kind == "campaign_touch" and event["action"] == "click":
            clicks[customer].append((at, event["channel"]))
        elif kind == "order_placed":
            current = profile[customer]
            facts = OrderFacts(
                order_id=event["order_id"],
                customer_id=customer,
                placed_at=at,
                tier=current["loyalty_tier"],
                tenure_days=(at - parse_time(current["signup_at"])).total_seconds() / 86_400,
                lines=event["lines"],
                campaign_id=event["campaign_id"],
                promo_code=event["promo_code"],
            )
            history = clicks[customer]
            last = bisect_left(history, (at, "")) - 1
            if last >= 0 and at - history[last][0] <= window:
                facts.last_click_channel = history[last][1]
            orders[facts.order_id] = facts
        elif kind == "return_requested" and event["return_type"] != "end_of_life":
            # a take-back for recycling, months later, is not a return of the purchase
            facts = orders[event["order_id"]]
            for line in event["lines"]:
                sku = line["sku"]
                facts.returned_units[sku] = facts.returned_units.get(sku, 0) + line["quantity"]
                facts.return_reasons[sku] = line["reason_code"]
    return list(orders.values())


def return_rate(orders: list[OrderFacts]) -> float:
    return sum(o.returned for o in orders) / len(orders)


def item_return_rate(orders: list[OrderFacts], categories: set[str] | None = None) -> float:
    """Returned units / ordered units, over lines of `categories` (all when None)."""
    ordered = returned = 0
    for order in orders:
        for line in order.lines:
            if categories is None or line["category"] in categories:
                ordered += line["quantity"]
                returned += order.returned_units.get(line["sku"], 0)
    return returned / ordered
