"""Event contracts: the only place that knows what goes over the wire.

Every input and output event is a strict, frozen pydantic model; `schemas.codec` turns bytes
into events (with errors that name the field) and events into bytes.
"""

from __future__ import annotations

from schemas.codec import EventValidationError, FieldError, decode_event, encode_event
from schemas.inputs import (
    CampaignTouch,
    CustomerUpdated,
    InputEvent,
    OrderPlaced,
    ReturnReceived,
    ReturnRequested,
)
from schemas.outputs import Alert, DeadLetter, Offer, RiskScore

__all__ = [
    "Alert",
    "CampaignTouch",
    "CustomerUpdated",
    "DeadLetter",
    "EventValidationError",
    "FieldError",
    "InputEvent",
    "Offer",
    "OrderPlaced",
    "ReturnReceived",
    "ReturnRequested",
    "RiskScore",
    "decode_event",
    "encode_event",
]
