from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import EventValidationError, OrderPlaced, decode_event, encode_event
from schemas.codec import dead_letter

ORDER = {
    "event_id": "evt-1",
    "event_type": "order_placed",
    "occurred_at": "2025-03-01T10:15:00+01:00",
    "customer_id": "cust-1",
    "order_id": "ord-1",
    "channel": "web",
    "currency": "EUR",
    "lines": [
        {
            "sku": "sku-1",
            "product_id": "prod-1",
            "category": "apparel",
            "size": "M",
            "unit_price": "19.99",
            "quantity": 2,
            "discount_amount": "0.10",
        }
    ],
    "payment_method": "card",
    "shipping_country": "DE",
}


def with_changes(base: dict, **changes: object) -> str:
    return json.dumps({**base, **changes})


def errors_of(raw: str) -> dict[str, str]:
    with pytest.raises(EventValidationError) as caught:
        decode_event(raw)
    return {e.field: e.message for e in caught.value.errors}


def test_valid_order_normalises_time_to_utc_and_keeps_money_exact() -> None:
    event = decode_event(json.dumps(ORDER))
    assert isinstance(event, OrderPlaced)
    assert event.occurred_at == datetime(2025, 3, 1, 9, 15, tzinfo=UTC)
    assert event.occurred_at.utcoffset().total_seconds() == 0
    line = event.lines[0]
    assert line.unit_price * line.quantity - line.discount_amount == Decimal("39.88")


def test_encoding_writes_money_as_strings_and_round_trips() -> None:
    event = decode_event(json.dumps(ORDER))
    encoded = encode_event(event)
    assert b'"unit_price":"19.99"' in encoded
    assert b'"occurred_at":"2025-03-01T09:15:00Z"' in encoded
    assert decode_event(encoded) == event


@pytest.mark.parametrize(
    ("raw", "field", "fragment"),
    [
        ("{not json", "(json)", "Invalid JSON"),
        (with_changes(ORDER, currency="euro"), "currency", "pattern"),
        (with_changes(ORDER, channel="fax"), "channel", "'web'"),
        (with_changes(ORDER, occurred_at="2025-03-01T10:15:00"), "occurred_at", "timezone"),
        (with_changes(ORDER, occurred_at=1_700_000_000), "occurred_at", "datetime"),
        (with_changes(ORDER, lines=[]), "lines", "at least 1"),
        (with_changes(ORDER, event_type="order_shipped"), "event_type", "unknown event type"),
        (with_changes(ORDER, unexpected=1), "unexpected", "Extra inputs"),
        (with_changes(ORDER, shipping_country="DEU"), "shipping_country", "pattern"),
    ],
)
def test_errors_name_the_field_and_reason(raw: str, field: str, fragment: str) -> None:
    errors = errors_of(raw)
    assert field in errors, errors
    assert fragment in errors[field]


def test_nested_line_errors_carry_the_path() -> None:
    bad_line = {**ORDER["lines"][0], "unit_price": "-1", "quantity": 0}
    errors = errors_of(with_changes(ORDER, lines=[bad_line]))
    assert "greater than or equal to 0" in errors["lines.0.unit_price"]
    assert "greater than or equal to 1" in errors["lines.0.quantity"]


def test_missing_field_is_reported_as_missing() -> None:
    payload = {k: v for k, v in ORDER.items() if k != "customer_id"}
    assert errors_of(json.dumps(payload)) == {"customer_id": "required field is missing"}


def test_strings_are_not_coerced_to_numbers_or_booleans() -> None:
    profile = {
        "event_id": "e",
        "event_type": "customer_updated",
        "occurred_at": "2025-01-01T00:00:00Z",
        "customer_id": "c",
        "loyalty_tier": "gold",
        "is_staff": "false",
        "signup_at": "2024-01-01T00:00:00Z",
        "country": "DE",
        "email_opt_in": True,
    }
    assert "is_staff" in errors_of(json.dumps(profile))
    profile["is_staff"] = False
    profile["attributes"] = {"age_band": "25-34", "kids": 2, "vip_club": True, "ltv": 1.5}
    event = decode_event(json.dumps(profile))
    assert event.attributes == {"age_band": "25-34", "kids": 2, "vip_club": True, "ltv": 1.5}


@settings(deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_either_decode_or_raise_a_field_error(raw: bytes) -> None:
    try:
        decode_event(raw)
    except EventValidationError as exc:
        assert exc.errors and all(e.field and e.message for e in exc.errors)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(ORDER)),
        st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers())),
        max_size=4,
    )
)
def test_corrupted_fields_never_escape_as_other_exceptions(changes: dict) -> None:
    try:
        decode_event(with_changes(ORDER, **changes))
    except EventValidationError as exc:
        assert set(e.field.split(".")[0] for e in exc.errors) <= set(ORDER) | {"(record)"}


def test_dead_letter_keeps_the_original_bytes_even_when_not_utf8() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    for raw in (b'{"event_type": "nope"}', b"\xff\xfe binary"):
        try:
            decode_event(raw)
        except EventValidationError as exc:
            record = dead_letter(
                raw,
                exc,
                step="ingest",
                topic="orders",
                partition=1,
                offset=7,
                key=b"c1",
                failed_at=now,
            )
        assert record.original_bytes() == raw
        assert record.errors and record.error
        assert json.loads(encode_event(record))["source_topic"] == "orders"
