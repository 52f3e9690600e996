"""Wire builders: each event type comes out canonical (what encode_event would write)."""

from __future__ import annotations

import random
import re

import pytest

from schemas.codec import decode_event, encode_event
from simulator import events

AT = "2025-03-01T10:15:00Z"


def _canonical(line: str) -> None:
    assert encode_event(decode_event(line)).decode() == line


def test_money_is_a_two_decimal_string() -> None:
    assert events.money(1999) == "19.99"
    assert events.money(5) == "0.05"
    assert events.money(0) == "0.00"
    assert events.money(1234500) == "12345.00"


def test_event_ids_are_reproducible_uuid4_strings() -> None:
    ids = [events.event_id(random.Random(4)) for _ in range(2)]
    assert ids[0] == ids[1]
    pattern = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    rng = random.Random(5)
    assert all(pattern.match(events.event_id(rng)) for _ in range(1000))


@pytest.mark.parametrize("discount", [None, "12.5", "30"])
def test_campaign_touch_is_canonical(discount: str | None) -> None:
    _canonical(
        events.campaign_touch(
            "e1", AT, "c1", campaign_id="x", channel="email", action="open", discount_pct=discount
        )
    )


def test_order_placed_is_canonical_with_nulls_and_discounts() -> None:
    lines = [
        events.order_line("p-M-red", "p", "apparel", "M", "red", 3999, 2, 1200),
        events.order_line("q", "q", "beauty", None, None, 1899, 1, 0),
    ]
    line = events.order_placed(
        "e2",
        AT,
        "c1",
        order_id="o1",
        channel="web",
        currency="EUR",
        lines=lines,
        payment_method="bnpl",
        shipping_country="DE",
        campaign_id=None,
        promo_code="BF25",
    )
    _canonical(line)
    assert '"discount_amount":"12.00"' in line and '"size":null' in line


def test_returns_and_profile_are_canonical() -> None:
    _canonical(
        events.return_requested(
            "e3",
            AT,
            "c1",
            return_id="r1",
            order_id="o1",
            lines=[("p-M-red", 1, "size_too_small")],
            return_type="commercial",
            method="mail",
            preferred_resolution="exchange",
        )
    )
    _canonical(
        events.return_received(
            "e4", AT, "c1", return_id="r1", order_id="o1", lines=[("p", 1, "worn")], refund_cents=0
        )
    )
    _canonical(
        events.customer_updated(
            "e5",
            AT,
            "c1",
            tier="vip",
            is_staff=False,
            signup_at="2020-02-29T23:59:59Z",
            country="GB",
            email_opt_in=True,
            attributes={"age_band": "55+", "preferred_store": "london-oxford-street"},
        )
    )
