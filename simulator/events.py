"""Wire encoding of the five input events, built as dicts and serialised with orjson.

Building pydantic models per event would cost more than the rest of the simulator together.
Instead each builder writes the fields in the contract's own order, nulls included and money
as strings, so every line equals `encode_event(decode_event(line))` (the tests check this)
and needs no re-encoding downstream.

Builders return `str`, not orjson's `bytes`: a million orjson buffers kept alive at once
fragment the heap so badly that each new dump gets slower (6 s instead of 1 s for a million
events); decoding straight away hands the text to Python's small-object allocator.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

SCHEMA_VERSION = 1
_VARIANT = "89ab"

Line = dict[str, Any]


def event_id(rng: random.Random) -> str:
    """A UUID-4-shaped id drawn from the customer's generator, so it is reproducible."""
    bits = rng.getrandbits(128)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[bits & 3]}{h[17:20]}-{h[20:]}"


def money(cents: int) -> str:
    """Cents as the contract's decimal string, e.g. 1999 -> '19.99'."""
    return f"{cents // 100}.{cents % 100:02d}"


def _envelope(eid: str, at: str, customer_id: str, event_type: str) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "event_id": eid,
        "occurred_at": at,
        "customer_id": customer_id,
        "event_type": event_type,
    }


def customer_updated(
    eid: str,
    at: str,
    customer_id: str,
    *,
    tier: str,
    is_staff: bool,
    signup_at: str,
    country: str,
    email_opt_in: bool,
    attributes: dict[str, str],
) -> str:
    event = _envelope(eid, at, customer_id, "customer_updated")
    event["loyalty_tier"] = tier
    event["is_staff"] = is_staff
    event["signup_at"] = signup_at
    event["country"] = country
    event["email_opt_in"] = email_opt_in
    event["attributes"] = attributes
    return orjson.dumps(event).decode()


def campaign_touch(
    eid: str,
    at: str,
    customer_id: str,
    *,
    campaign_id: str,
    channel: str,
    action: str,
    discount_pct: str | None,
) -> str:
    event = _envelope(eid, at, customer_id, "campaign_touch")
    event["campaign_id"] = campaign_id
    event["channel"] = channel
    event["action"] = action
    event["discount_pct"] = discount_pct
    return orjson.dumps(event).decode()


def order_line(
    sku: str,
    product_id: str,
    category: str,
    size: str | None,
    color: str | None,
    unit_cents: int,
    quantity: int,
    discount_cents: int,
) -> Line:
    return {
        "sku": sku,
        "product_id": product_id,
        "category": category,
        "size": size,
        "color": color,
        "unit_price": money(unit_cents),
        "quantity": quantity,
        "discount_amount": money(discount_cents),
    }


def order_placed(
    eid: str,
    at: str,
    customer_id: str,
    *,
    order_id: str,
    channel: str,
    currency: str,
    lines: list[Line],
    payment_method: str,
    shipping_country: str,
    campaign_id: str | None,
    promo_code: str | None,
) -> str:
    event = _envelope(eid, at, customer_id, "order_placed")
    event["order_id"] = order_id
    event["channel"] = channel
    event["currency"] = currency
    event["lines"] = lines
    event["payment_method"] = payment_method
    event["shipping_country"] = shipping_country
    event["campaign_id"] = campaign_id
    event["promo_code"] = promo_code
    return orjson.dumps(event).decode()


def return_requested(
    eid: str,
    at: str,
    customer_id: str,
    *,
    return_id: str,
    order_id: str,
    lines: list[tuple[str, int, str]],
    return_type: str,
    method: str,
    preferred_resolution: str,
) -> str:
    """`lines` are (sku, quantity, reason_code)."""
    event = _envelope(eid, at, customer_id, "return_requested")
    event["return_id"] = return_id
    event["order_id"] = order_id
    event["lines"] = [{"sku": s, "quantity": q, "reason_code": r} for s, q, r in lines]
    event["return_type"] = return_type
    event["method"] = method
    event["preferred_resolution"] = preferred_resolution
    return orjson.dumps(event).decode()


def return_received(
    eid: str,
    at: str,
    customer_id: str,
    *,
    return_id: str,
    order_id: str,
    lines: list[tuple[str, int, str]],
    refund_cents: int,
) -> str:
    """`lines` are (sku, quantity, condition)."""
    event = _envelope(eid, at, customer_id, "return_received")
    event["return_id"] = return_id
    event["order_id"] = order_id
    event["lines"] = [{"sku": s, "quantity": q, "condition": c} for s, q, c in lines]
    event["refund_amount"] = money(refund_cents)
    return orjson.dumps(event).decode()
