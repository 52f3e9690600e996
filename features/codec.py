"""Customer state <-> compact bytes (msgpack), the form it takes in Redis."""

from __future__ import annotations

from typing import Any

import msgpack

from features.state import (
    CustomerState,
    OrderLine,
    OrderRecord,
    OrderTile,
    ProfileRecord,
    ReceiptRecord,
    ReceiptTile,
    ReturnLine,
    ReturnRecord,
    ReturnTile,
    TouchRecord,
)

FORMAT_VERSION = 3  # 2: day tiles, repurchases, matches; 3: order-level returns, categories


class StateFormatError(ValueError):
    """Stored state written by an incompatible version of returnrisk."""


def encode_state(state: CustomerState) -> bytes:
    payload = [
        FORMAT_VERSION,
        state.newest,
        state.first_order_at,
        state.expired_orders,
        state.last_expired_order_at,
        state.orders,
        state.returns,
        state.receipts,
        state.touches,
        state.profiles,
        state.order_tiles,
        state.return_tiles,
        state.receipt_tiles,
    ]
    packed: bytes = msgpack.packb(payload, use_bin_type=True)
    return packed


def decode_state(blob: bytes) -> CustomerState:
    payload: list[Any] = msgpack.unpackb(blob, use_list=True, strict_map_key=False)
    if not payload or payload[0] != FORMAT_VERSION:
        raise StateFormatError(f"state format {payload[:1]} is not {FORMAT_VERSION}")
    (
        _,
        newest,
        first_order,
        expired,
        last_expired,
        orders,
        returns,
        receipts,
        touches,
        profiles,
        order_tiles,
        return_tiles,
        receipt_tiles,
    ) = payload
    return CustomerState(
        newest=list(newest),
        first_order_at=first_order,
        expired_orders=expired,
        last_expired_order_at=last_expired,
        orders=[
            OrderRecord._make(
                [*o[:7], tuple(OrderLine(*line) for line in o[7]), tuple(o[8]), *o[9:]]
            )
            for o in orders
        ],
        returns=[
            ReturnRecord._make(
                [*r[:6], tuple(ReturnLine(*line) for line in r[6]), r[7], r[8], tuple(r[9])]
            )
            for r in returns
        ],
        receipts=[ReceiptRecord(*r) for r in receipts],
        touches=[TouchRecord(*t) for t in touches],
        profiles=[ProfileRecord(*p) for p in profiles],
        order_tiles=[OrderTile(*t) for t in order_tiles],
        return_tiles=[
            ReturnTile._make([*t[:11], tuple(t[11]), tuple(t[12]), t[13]]) for t in return_tiles
        ],
        receipt_tiles=[ReceiptTile(*t) for t in receipt_tiles],
    )
