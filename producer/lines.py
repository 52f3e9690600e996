"""One line of an event log: where it goes and under which key, or why it is malformed.

Validation goes through `schemas.log_check.check_line` (`schemas.codec.decode_event`, the same
function the stream uses), so a line the producer accepts is one the stream accepts and one
`returnrisk validate` passes; a malformed line is the checker's `BadLine`. The original bytes
are what is sent: the schema accepts them as they are, and re-encoding would hide what the
source system wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from schemas.codec import EventValidationError
from schemas.log_check import BadLine, check_line
from streams.settings import TopicSettings

MalformedLine = BadLine
"""A line that is not a valid event (`schemas.log_check.BadLine`), under the producer's name."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes


def route(raw: bytes, line_no: int, topics: TopicSettings) -> Outgoing | BadLine:
    """The event's input topic, keyed by customer_id, or what is wrong with the line."""
    event = check_line(raw, line_no)
    if isinstance(event, BadLine):
        return event
    return Outgoing(topics.for_event_type(event.event_type), event.customer_id.encode(), raw)


def route_valid(raw: bytes, topics: TopicSettings) -> Outgoing:
    """The event's input topic, keyed by customer_id; raises `EventValidationError`."""
    routed = route(raw, 0, topics)
    if isinstance(routed, BadLine):
        raise EventValidationError(routed.errors)
    return routed


def route_invalid(raw: bytes, topics: TopicSettings) -> Outgoing:
    """Best-effort routing of a malformed line, for exercising the stream's dead-letter path.

    Uses `event_type` and `customer_id` when they can be read; otherwise the orders topic and no
    key (the broker then spreads such lines over partitions).
    """
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Outgoing(topics.orders, None, raw)
    if not isinstance(record, dict):
        return Outgoing(topics.orders, None, raw)
    event_type, customer_id = record.get("event_type"), record.get("customer_id")
    try:
        topic = topics.for_event_type(event_type) if isinstance(event_type, str) else topics.orders
    except KeyError:
        topic = topics.orders
    key = customer_id.encode() if isinstance(customer_id, str) and customer_id else None
    return Outgoing(topic, key, raw)
