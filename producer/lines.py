"""One line of an event log: where it goes and under which key, or why it is malformed.

Validation goes through `schemas.codec.decode_event`, the same function the stream uses, so a
line the producer accepts is one the stream accepts. The original bytes are what is sent: the
schema accepts them as they are, and re-encoding would hide what the source system wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from schemas.codec import FieldError, decode_event
from streams.settings import TopicSettings


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class MalformedLine:
    """A line that is not a valid event, with every field at fault."""

    line_no: int
    errors: tuple[FieldError, ...]

    def __str__(self) -> str:
        return f"line {self.line_no}: " + "; ".join(str(error) for error in self.errors)


def route_valid(raw: bytes, topics: TopicSettings) -> Outgoing:
    """The event's input topic, keyed by customer_id; raises `EventValidationError`."""
    event = decode_event(raw)
    return Outgoing(topics.for_event_type(event.event_type), event.customer_id.encode(), raw)


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
