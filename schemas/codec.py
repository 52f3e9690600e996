"""Bytes <-> events, with validation errors that name the field and the reason.

`streams/`, the producer and the offline replay all decode through here, so an event that one
accepts every other accepts too.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, TypeAdapter, ValidationError

from schemas.inputs import INPUT_EVENT_TYPES, InputEvent
from schemas.outputs import DeadLetter, FieldErrorRecord

_INPUT_ADAPTER: TypeAdapter[InputEvent] = TypeAdapter(InputEvent)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field; `field` is a dotted path such as `lines.0.unit_price`, `kind`
    one of `ERROR_KINDS` (what `returnrisk validate` counts by)."""

    field: str
    message: str
    kind: str = "invalid-value"

    def __str__(self) -> str:
        return f"field '{self.field}': {self.message}"


MAX_FIELD_ERRORS = 100
"""Field errors an `EventValidationError` lists; it counts the rest (`omitted`). A record of a
megabyte can carry hundreds of thousands of faults (an unknown key, a wrong line, each one an
error), and listing them all cost the worker seconds and hundreds of megabytes per record, and
made a dead letter many times larger than the record it wraps."""
_MAX_FIELD_CHARS = 200
_MAX_MESSAGE_CHARS = 500
"""A field's path names the record's own keys, of any length: both are cut to these."""
_MAX_REASON_CHARS = 2_000
"""A dead letter's one-line `error`."""


class EventValidationError(ValueError):
    """An input record that is not a valid event; `errors` lists the fields at fault (the first
    `MAX_FIELD_ERRORS`), `omitted` how many more there are."""

    def __init__(self, errors: Sequence[FieldError], omitted: int = 0) -> None:
        self.errors = tuple(errors)
        self.omitted = omitted
        more = f"; and {omitted} more" if omitted else ""
        super().__init__("; ".join(str(e) for e in self.errors) + more)


_EXPECTED_TYPES = ", ".join(sorted(INPUT_EVENT_TYPES))

ERROR_KINDS: dict[str, str] = {
    "not-json": "the line is not JSON (garbage, or cut off)",
    "not-an-object": "the line is JSON but not an object",
    "missing-event-type": "no event_type (an empty object, too)",
    "unknown-event-type": "an event_type that is not an input event",
    "missing-field": "a required field is absent",
    "unexpected-field": "a field the contract does not have",
    "wrong-type": "a value of the wrong JSON type (a number for a string, null, ...)",
    "not-allowed-value": "a value outside the field's enumeration",
    "out-of-range": "a number below or above its bounds (a negative price, zero units, ...)",
    "bad-timestamp": "not an RFC 3339 time with an offset",
    "wrong-length": "a string or list too short or too long (an empty id, a 200-character id)",
    "wrong-format": "a string not in its pattern (a currency that is not 3 capital letters)",
    "invalid-value": "any other rule of the contract (an order total that is not money)",
}
"""Every kind of `FieldError`, with what it means, grouped from pydantic's error types."""

_KIND_BY_TYPE = {
    "json_invalid": "not-json",
    "json_type": "not-json",
    "union_tag_not_found": "missing-event-type",
    "union_tag_invalid": "unknown-event-type",
    "missing": "missing-field",
    "extra_forbidden": "unexpected-field",
    "enum": "not-allowed-value",
    "literal_error": "not-allowed-value",
    "string_pattern_mismatch": "wrong-format",
}
_KIND_BY_PREFIX = (
    (
        (
            "greater_than",
            "less_than",
            "multiple_of",
            "decimal_max",
            "decimal_whole",
            "finite_number",
        ),
        "out-of-range",
    ),
    (("datetime_", "date_", "time_", "timezone_"), "bad-timestamp"),
    (("string_too_", "too_short", "too_long"), "wrong-length"),
)


def _kind(error_type: str, at_root: bool) -> str:
    if error_type in _KIND_BY_TYPE:
        return _KIND_BY_TYPE[error_type]
    if at_root and error_type in ("dict_type", "model_type", "model_attributes_type"):
        return "not-an-object"
    for prefixes, kind in _KIND_BY_PREFIX:
        if error_type.startswith(prefixes):
            return kind
    if error_type.endswith("_type") or error_type.endswith("_parsing"):
        return "wrong-type"
    return "invalid-value"


def _field_errors(exc: ValidationError) -> list[FieldError]:
    """The first `MAX_FIELD_ERRORS` errors. Without the inputs and contexts (never shown):
    converting those was most of the cost of a record with many faults."""
    errors = []
    found = exc.errors(include_url=False, include_context=False, include_input=False)
    for err in found[:MAX_FIELD_ERRORS]:
        kind = err["type"]
        # loc[0] is the union tag pydantic inserts for the event type ('order_placed'); drop it.
        field = ".".join(str(part) for part in err["loc"][1:]) or "(record)"
        message = err["msg"]
        if kind == "json_invalid":
            field = "(json)"
        elif kind == "missing":
            message = "required field is missing"
        elif kind == "union_tag_not_found":
            field, message = "event_type", f"required field is missing; one of {_EXPECTED_TYPES}"
        elif kind == "union_tag_invalid":
            field, message = "event_type", f"unknown event type; expected one of {_EXPECTED_TYPES}"
        field, message = _cut(field, _MAX_FIELD_CHARS), _cut(message, _MAX_MESSAGE_CHARS)
        errors.append(FieldError(field, message, _kind(kind, len(err["loc"]) <= 1)))
    return errors


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def decode_event(raw: bytes | str) -> InputEvent:
    """Parse one JSON record into its input event, or raise `EventValidationError`."""
    try:
        return _INPUT_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        errors = _field_errors(exc)
        raise EventValidationError(errors, exc.error_count() - len(errors)) from None


def encode_event(event: BaseModel) -> bytes:
    """Serialise any contract to compact JSON (money as strings, times in UTC)."""
    return event.model_dump_json().encode("utf-8")


DEAD_LETTER_MAX_BYTES = 960_000
"""Most bytes of an encoded dead letter. The worker's producer sends records of at most
1,000,000 bytes (faust's `producer_max_request_size`), key and framing included, and a dead
letter it cannot send fails its batch's delivery at every retry: the worker would stop there
for good. Up to this size the payload is kept whole; a larger record keeps its first bytes
(`payload_truncated`), and the whole stays at `source_topic`, `partition`, `offset`."""
DEAD_LETTER_KEY_BYTES = 1_024
"""Most bytes of the original key a dead letter keeps, as its own key and in `key`: room for any
customer id (at most 128 characters)."""


def dead_letter(
    raw: bytes,
    error: EventValidationError | str,
    *,
    step: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    failed_at: datetime,
) -> DeadLetter:
    """Wrap a rejected record so that it can be inspected and replayed byte for byte (when it
    fits in `DEAD_LETTER_MAX_BYTES` encoded; see there)."""
    field_errors = error.errors if isinstance(error, EventValidationError) else ()
    letter = DeadLetter(
        step=step,
        error=_reason(error),
        errors=[FieldErrorRecord(field=e.field, message=e.message) for e in field_errors],
        source_topic=topic,
        partition=partition,
        offset=offset,
        key=None
        if key is None
        else key[:DEAD_LETTER_KEY_BYTES].decode("utf-8", "backslashreplace"),
        payload="",
        failed_at=failed_at,
    )
    return _with_payload(letter, raw)


def _reason(error: EventValidationError | str) -> str:
    """The one-line reason, at most `_MAX_REASON_CHARS`; cut short, it still counts the errors."""
    text = str(error)
    if len(text) <= _MAX_REASON_CHARS:
        return text
    count = len(error.errors) + error.omitted if isinstance(error, EventValidationError) else 0
    tail = f"… ({count} errors)" if count else "…"
    return text[: _MAX_REASON_CHARS - len(tail)] + tail


def _with_payload(letter: DeadLetter, raw: bytes) -> DeadLetter:
    """The letter carrying as much of `raw` as fits: all of it, or its first bytes. Each pass
    keeps the share of the bytes that fitted the last one (escapes and base64 make a byte cost
    more than one in the letter), so a few passes find the size."""
    envelope = len(encode_event(letter))  # with an empty payload
    kept = len(raw)
    while True:
        payload, encoding = _payload_text(raw[:kept], whole=kept == len(raw))
        candidate = letter.model_copy(
            update={
                "payload": payload,
                "payload_encoding": encoding,
                "payload_truncated": kept < len(raw),
            }
        )
        size = len(encode_event(candidate))
        if size <= DEAD_LETTER_MAX_BYTES or kept == 0:
            return candidate
        room, used = DEAD_LETTER_MAX_BYTES - envelope, size - envelope
        kept = min(kept - 1, kept * room // used)


def _payload_text(raw: bytes, *, whole: bool) -> tuple[str, str]:
    """UTF-8 text if the bytes are (a cut record may end inside a character: that is dropped),
    else base64."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if not whole and exc.start >= len(raw) - 3 and exc.reason == "unexpected end of data":
            return raw[: exc.start].decode("utf-8"), "utf-8"
        return base64.b64encode(raw).decode("ascii"), "base64"
