"""Routing one line: valid events to their topic by customer, malformed ones explained."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producer.lines import MalformedLine, route_invalid, route_valid
from schemas.codec import EventValidationError, FieldError
from streams.settings import TopicSettings
from tests.fixtures.events import EventFactory

TOPICS = TopicSettings()


@pytest.mark.parametrize(
    ("make", "topic"),
    [
        ("order", "orders"),
        ("return_requested", "returns"),
        ("return_received", "returns"),
        ("campaign_touch", "campaign-touches"),
        ("customer_updated", "customers"),
    ],
)
def test_valid_events_go_to_their_topic_keyed_by_customer(make: str, topic: str) -> None:
    event = getattr(EventFactory(), make)(customer_id="cust-42")
    raw = json.dumps(event, indent=None).encode()  # spaces after separators: kept as written

    outgoing = route_valid(raw, TOPICS)

    assert (outgoing.topic, outgoing.key, outgoing.value) == (topic, b"cust-42", raw)


def test_malformed_line_message_names_line_and_field() -> None:
    factory = EventFactory()
    order = factory.order(lines=[{**factory.order()["lines"][0], "unit_price": "-1"}])

    with pytest.raises(EventValidationError) as caught:
        route_valid(factory.line(order), TOPICS)

    assert str(MalformedLine(7, caught.value.errors)) == (
        "line 7: field 'lines.0.unit_price': Input should be greater than or equal to 0"
    )


def test_several_faults_on_one_line_make_one_message() -> None:
    errors = (FieldError("order_id", "required field is missing"), FieldError("channel", "bad"))
    assert str(MalformedLine(3, errors)) == (
        "line 3: field 'order_id': required field is missing; field 'channel': bad"
    )


@pytest.mark.parametrize(
    ("raw", "topic", "key"),
    [
        (b'{"event_type": "return_requested", "customer_id": "c-1"}', "returns", b"c-1"),
        (b'{"event_type": "teleport", "customer_id": "c-1"}', "orders", b"c-1"),
        (b'{"event_type": 7, "customer_id": 12}', "orders", None),
        (b'{"event_type": "order_placed",', "orders", None),
        (b"[1, 2]", "orders", None),
    ],
)
def test_invalid_lines_are_routed_best_effort(raw: bytes, topic: str, key: bytes | None) -> None:
    outgoing = route_invalid(raw, TOPICS)
    assert (outgoing.topic, outgoing.key, outgoing.value) == (topic, key, raw)


@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_line_is_either_routed_or_rejected_with_field_errors(raw: bytes) -> None:
    try:
        outgoing = route_valid(raw, TOPICS)
    except EventValidationError as exc:
        assert exc.errors and all(e.field and e.message for e in exc.errors)
        outgoing = route_invalid(raw, TOPICS)
    assert outgoing.topic in TOPICS.inputs
    assert outgoing.value == raw
