"""What happened after a decision, read from the same event log: was the order returned, in
which condition did the items come back (or did they never), did the customer buy again.

Values are exact (Decimal): a returned line is worth its order line's net unit price (after the
line's discount) times the quantity, so a small log's money can be checked by hand to the cent.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from policy.economics import NOT_RECEIVED
from schemas import InputEvent, OrderPlaced, ReturnReceived, ReturnRequested
from schemas.offer_log import REPURCHASE_DAYS

RECEIPT_WAIT_DAYS = 30
"""Requested items not received within this many days of the request never came back."""
_WAIT = timedelta(days=RECEIPT_WAIT_DAYS)
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Line:
    unit_price: Decimal
    """Net of the line's discount, per unit."""
    quantity: int
    category: str


@dataclass(slots=True)
class Request:
    order_id: str
    at: datetime
    items: dict[str, int]
    """Requested quantity by SKU."""
    received: list[tuple[str, int, str]] = field(default_factory=list)
    """(sku, quantity, condition) of every receipt line."""


@dataclass(frozen=True, slots=True)
class Afterwards:
    """One decision's outcome. Money by category: `(category, condition) -> value`."""

    returned: bool
    returned_value: Decimal
    by_condition: dict[tuple[str, str], Decimal]
    """Value of the requested items by category and received condition (`not_received` when
    they did not come back within the wait); empty when still pending at the log's end."""
    pending: bool
    """Items requested but the log ends before the wait is over: condition unknown."""
    repurchased: bool | None
    """Another order within 90 days; None when the log ends sooner."""
    order_value: Decimal
    """The order's value, net of line discounts."""


class LogFacts:
    """Orders, return requests and receipts of a log, indexed for outcome lookups."""

    def __init__(self, events: list[InputEvent]) -> None:
        self.lines: dict[str, dict[str, Line]] = {}
        self.requests: dict[str, Request] = {}
        self.requests_of: dict[str, list[str]] = defaultdict(list)
        self.order_times: dict[str, list[datetime]] = defaultdict(list)
        self.end = max((e.occurred_at for e in events), default=datetime.min)
        receipts: list[ReturnReceived] = []
        for event in sorted(events, key=lambda e: e.occurred_at):
            if isinstance(event, OrderPlaced):
                self.lines.setdefault(event.order_id, _lines(event))
                self.order_times[event.customer_id].append(event.occurred_at)
            elif isinstance(event, ReturnRequested) and event.return_id not in self.requests:
                items: dict[str, int] = defaultdict(int)
                for line in event.lines:
                    items[line.sku] += line.quantity
                self.requests[event.return_id] = Request(event.order_id, event.occurred_at, items)
                self.requests_of[event.order_id].append(event.return_id)
            elif isinstance(event, ReturnReceived):
                receipts.append(event)
        for receipt in receipts:
            request = self.requests.get(receipt.return_id)
            if request is not None and receipt.occurred_at <= request.at + _WAIT:
                request.received.extend(
                    (r.sku, r.quantity, r.condition.value) for r in receipt.lines
                )

    def after_order(self, order_id: str, customer_id: str, at: datetime) -> Afterwards:
        """The order's return requests after `at`, and the customer's next order."""
        returns = [self.requests[r] for r in self.requests_of.get(order_id, ())]
        return self._outcome(order_id, [r for r in returns if r.at >= at], customer_id, at)

    def after_request(self, return_id: str, customer_id: str, at: datetime) -> Afterwards:
        request = self.requests[return_id]
        return self._outcome(request.order_id, [request], customer_id, at)

    def _outcome(
        self, order_id: str, requests: list[Request], customer_id: str, at: datetime
    ) -> Afterwards:
        lines = self.lines.get(order_id, {})
        by_condition: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        returned_value, pending = Decimal(0), False
        for request in requests:
            for sku, quantity in request.items.items():
                line = lines.get(sku)
                if line is None:
                    continue  # a request for an item the order does not hold: no value
                requested = min(quantity, line.quantity)
                returned_value += line.unit_price * requested
                received = 0
                for got_sku, got, condition in request.received:
                    if got_sku == sku and received < requested:
                        counted = min(got, requested - received)
                        by_condition[line.category, condition] += line.unit_price * counted
                        received += counted
                missing = requested - received
                if missing and request.at + _WAIT > self.end:
                    pending = True
                elif missing:
                    by_condition[line.category, NOT_RECEIVED] += line.unit_price * missing
        times = self.order_times.get(customer_id, [])
        horizon = at + timedelta(days=REPURCHASE_DAYS)
        later = bisect.bisect_right(times, at)
        repurchased = (
            None
            if horizon > self.end and (later == len(times))
            else later < len(times) and times[later] <= horizon
        )
        order_value = sum((line.unit_price * line.quantity for line in lines.values()), Decimal(0))
        return Afterwards(
            bool(requests), returned_value, dict(by_condition), pending, repurchased, order_value
        )


def _lines(order: OrderPlaced) -> dict[str, Line]:
    """The order's lines by SKU; a SKU on several lines at their mean net unit price."""
    totals: dict[str, tuple[Decimal, int, str]] = {}
    for line in order.lines:
        value, quantity, _ = totals.get(line.sku, (Decimal(0), 0, line.category))
        net = line.unit_price * line.quantity - line.discount_amount
        totals[line.sku] = (value + net, quantity + line.quantity, line.category)
    return {
        sku: Line(value / quantity, quantity, cat) for sku, (value, quantity, cat) in totals.items()
    }
