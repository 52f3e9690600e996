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


class EventValidationError(ValueError):
    """An input record that is not a valid event; `errors` lists every field at fault."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


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
    errors = []
    for err in exc.errors(include_url=False):
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
        errors.append(FieldError(field, message, _kind(kind, len(err["loc"]) <= 1)))
    return errors


def decode_event(raw: bytes | str) -> InputEvent:
    """Parse one JSON record into its input event, or raise `EventValidationError`."""
    try:
        return _INPUT_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise EventValidationError(_field_errors(exc)) from None


def encode_event(event: BaseModel) -> bytes:
    """Serialise any contract to compact JSON (money as strings, times in UTC)."""
    return event.model_dump_json().encode("utf-8")


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
    """Wrap a rejected record so that it can be inspected and replayed byte for byte."""
    try:
        payload, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        payload, encoding = base64.b64encode(raw).decode("ascii"), "base64"
    field_errors = error.errors if isinstance(error, EventValidationError) else ()
    return DeadLetter(
        step=step,
        error=str(error)[:2000],
        errors=[FieldErrorRecord(field=e.field, message=e.message) for e in field_errors],
        source_topic=topic,
        partition=partition,
        offset=offset,
        key=key.decode("utf-8", "backslashreplace") if key is not None else None,
        payload=payload,
        payload_encoding=encoding,  # type: ignore[arg-type]
        failed_at=failed_at,
    )
