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
    """One problem with one field; `field` is a dotted path such as `lines.0.unit_price`."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"field '{self.field}': {self.message}"


class EventValidationError(ValueError):
    """An input record that is not a valid event; `errors` lists every field at fault."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


_EXPECTED_TYPES = ", ".join(sorted(INPUT_EVENT_TYPES))


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
        errors.append(FieldError(field, message))
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
