"""Orders and return requests as wire events: the simulator's encoding, byte for byte.

Like `simulator.events`, each event is a dict in the contract's field order,
serialised with orjson (money as exact decimal text, times as `YYYY-MM-DDTHH:MM:SSZ`), so a
line equals `encode_event(decode_event(line))`. Ids are derived, not drawn: an order's
`order_id` is its invoice number, a return's `return_id` is `<credit invoice>:<order id>`
(a UUID 5 of it when that would exceed 128 characters), and `event_id` is a UUID 5 of the
mapping's name, the event type and that id. The same input gives the same bytes.

Every event is decoded with the event contracts before it is written; one that fails (an order
total above the money limit, say) is not written, and its lines are rejected with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ingest.mapping import Mapping
from schemas.codec import EventValidationError, decode_event

_NAMESPACE = uuid.UUID("6f1c8a44-4a53-5d62-9c55-1b1d8f3e2a70")


@dataclass(frozen=True, slots=True)
class Built:
    """One event: its sort key (time, kind, invoice number, tie), its JSON line, its source."""

    key: tuple[int, int, int, str]
    line: str
    invoice: str
    customer_id: str


class Timestamps:
    """Epoch seconds -> RFC 3339 text, cached: an invoice's lines share one time."""

    def __init__(self) -> None:
        self._text: dict[int, str] = {}

    def __call__(self, seconds: int) -> str:
        text = self._text.get(seconds)
        if text is None:
            text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            self._text[seconds] = text
        return text


def event_id(mapping: Mapping, event_type: str, ident: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{mapping.name}\x1f{event_type}\x1f{ident}"))


def return_id(credit_invoice: str, order_id: str) -> str:
    ident = f"{credit_invoice}:{order_id}"
    return ident if len(ident) <= 128 else str(uuid.uuid5(_NAMESPACE, ident))


def _envelope(eid: str, at: str, customer_id: str, event_type: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": eid,
        "occurred_at": at,
        "customer_id": customer_id,
        "event_type": event_type,
    }


def _runs(keys: np.ndarray[Any, Any]) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of equal consecutive keys."""
    if len(keys) == 0:
        return
    breaks = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    starts = np.concatenate(([0], breaks))
    ends = np.concatenate((breaks, [len(keys)]))
    yield from zip(starts.tolist(), ends.tolist(), strict=True)


def order_events(sales: pd.DataFrame, mapping: Mapping, times: Timestamps) -> Iterator[Built]:
    """One order_placed per order, its lines in (line, file) order."""
    frame = sales.sort_values(["first", "line", "file", "row"], kind="stable")
    cols = {name: frame[name].to_numpy() for name in frame.columns}
    cols_list = {
        name: cols[name].tolist()
        for name in ("order_id", "customer_id", "sku", "product_id", "category", "unit_price",
                     "quantity", "currency", "channel", "country", "at", "first")
    }  # fmt: skip
    d = mapping.defaults
    for start, end in _runs(cols["first"]):
        order_id = cols_list["order_id"][start]
        customer = cols_list["customer_id"][start]
        at = cols_list["at"][start]
        event = _envelope(event_id(mapping, "order_placed", order_id), times(at), customer,
                          "order_placed")  # fmt: skip
        event["order_id"] = order_id
        event["channel"] = cols_list["channel"][start]
        event["currency"] = cols_list["currency"][start]
        event["lines"] = [
            {
                "sku": cols_list["sku"][i],
                "product_id": cols_list["product_id"][i],
                "category": cols_list["category"][i],
                "size": None,
                "color": None,
                "unit_price": cols_list["unit_price"][i],
                "quantity": cols_list["quantity"][i],
                "discount_amount": "0",
            }
            for i in range(start, end)
        ]
        event["payment_method"] = d.payment_method.value
        event["shipping_country"] = cols_list["country"][start]
        event["campaign_id"] = None
        event["promo_code"] = None
        key = (at, 0, cols_list["first"][start], "")
        yield Built(key, orjson.dumps(event).decode(), order_id, customer)


def return_events(lines: pd.DataFrame, mapping: Mapping, times: Timestamps) -> Iterator[Built]:
    """One return_requested per (credit invoice, matched order), one line per product."""
    frame = lines.sort_values(["first", "matched", "file", "row"], kind="stable")
    cols = {name: frame[name].tolist() for name in frame.columns}
    pair = (frame["first"].astype(str) + "\x1f" + frame["matched"].astype(str)).to_numpy()
    d = mapping.defaults
    for start, end in _runs(pair):
        credit, matched = cols["order_id"][start], cols["matched"][start]
        customer, at = cols["customer_id"][start], cols["at"][start]
        rid = return_id(credit, matched)
        event = _envelope(event_id(mapping, "return_requested", rid), times(at), customer,
                          "return_requested")  # fmt: skip
        event["return_id"] = rid
        event["order_id"] = matched
        event["lines"] = [
            {"sku": cols["sku"][i], "quantity": cols["quantity"][i],
             "reason_code": cols["reason"][i]}
            for i in range(start, end)
        ]  # fmt: skip
        event["return_type"] = "commercial"
        event["method"] = d.return_method.value
        event["preferred_resolution"] = d.preferred_resolution.value
        key = (at, 1, cols["first"][start], matched)
        yield Built(key, orjson.dumps(event).decode(), credit, customer)


def invalid(built: Built) -> str | None:
    """Why the event breaks its contract, or None."""
    try:
        decode_event(built.line)
    except EventValidationError as exc:
        return f"event breaks its contract: {exc}"
    return None
