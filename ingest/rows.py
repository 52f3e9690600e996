"""Every row of a chunk is kept, excluded or rejected; the first rule that applies decides.

1. Rejected, the row cannot be read: missing order id, missing product code, unparseable
   timestamp, nonexistent or ambiguous local time, non-numeric quantity (or not a whole
   number), non-numeric unit price.
2. Excluded, not a product: a code in the mapping's `non_product.codes`, then a code that does
   not match `non_product.product_pattern`.
3. Excluded, no customer: anonymous lines cannot feed per-customer features.
4. Excluded, quantity: zero; negative outside a credit; positive on a credit.
5. Rejected, out of the contract's range: quantity above 1,000,000 units, negative unit price,
   more than 4 decimals, a price of 1e14 or more, an id longer than 128 characters, an
   unknown currency code.

Kept rows carry contract-ready values: UTC epoch seconds, whole units (positive for credits
too), exact price text, ISO codes, with the mapping's defaults where a value is missing or
unmapped (counted per field).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ingest.mapping import Mapping
from ingest.readers import Chunk
from ingest.values import (
    PRICE_NEGATIVE,
    PRICE_NOT_NUMBER,
    PRICE_PRECISION,
    PRICE_TOO_LARGE,
    BoolArray,
    ObjectArray,
    epoch_seconds,
    mapped,
    prices,
    quantities,
    text,
)
from schemas.common import MAX_QUANTITY, OrderChannel, ReasonCode

REJECT, EXCLUDE = "rejected", "excluded"

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CHANNELS = frozenset(c.value for c in OrderChannel)
_REASONS = frozenset(r.value for r in ReasonCode)
_MAX_ID = 128

KEPT_COLUMNS = [
    "file", "row", "order_id", "customer_id", "ts", "product_id", "sku", "quantity",
    "unit_price", "currency", "category", "channel", "country", "reason", "line", "credit",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reject:
    file: int
    row: int
    reason: str
    detail: str


@dataclass(slots=True)
class Sorted:
    """One chunk, sorted: the kept rows (a frame of KEPT_COLUMNS), rejects and counts."""

    kept: pd.DataFrame
    rejects: list[Reject] = field(default_factory=list)
    excluded: Counter[str] = field(default_factory=Counter)
    defaulted: Counter[str] = field(default_factory=Counter)
    rows: int = 0


class _Verdicts:
    """The first rule that applies to a row wins; later rules see only undecided rows."""

    def __init__(self, n: int) -> None:
        self.kind = np.full(n, "", dtype=object)
        self.reason = np.full(n, "", dtype=object)
        self.detail = np.full(n, "", dtype=object)

    @property
    def open(self) -> BoolArray:
        undecided: BoolArray = self.kind == ""
        return undecided

    def apply(
        self, mask: BoolArray, kind: str, reason: str, detail: ObjectArray | None = None
    ) -> None:
        hit = mask & self.open
        self.kind[hit] = kind
        self.reason[hit] = reason
        if detail is not None:
            self.detail[hit] = detail[hit]


def _long(*columns: ObjectArray) -> BoolArray:
    lengths = [pd.Series(c, dtype=object).str.len().to_numpy() > _MAX_ID for c in columns]
    long: BoolArray = np.logical_or.reduce(lengths)
    return long


def sort_rows(chunk: Chunk, file_index: int, mapping: Mapping) -> Sorted:
    """Decide every row of `chunk` (of input file number `file_index`)."""
    batch, cols, n = chunk.batch, mapping.columns, chunk.batch.num_rows
    names = set(batch.schema.names)

    def column(name: str, *, integral: bool = False) -> ObjectArray:
        if name not in names:
            return np.full(n, "", dtype=object)
        return text(batch.column(name), integral=integral)

    order_id, product_id = column("order_id"), column("product_id")
    customer_id = column("customer_id", integral=True)
    seconds, unparseable, local_gap = epoch_seconds(batch.column("timestamp"), mapping.timestamp)
    units, not_whole = quantities(batch.column("quantity"))
    price, price_status = prices(batch.column("unit_price"))
    raw_ts = text(batch.column("timestamp")) if (unparseable | local_gap).any() else None

    v = _Verdicts(n)
    v.apply(order_id == "", REJECT, "missing order id")
    v.apply(product_id == "", REJECT, "missing product code")
    v.apply(unparseable, REJECT, "unparseable timestamp", raw_ts)
    v.apply(local_gap, REJECT, "nonexistent or ambiguous local time", raw_ts)
    v.apply(not_whole, REJECT, "non-numeric quantity", text(batch.column("quantity")))
    v.apply(price_status == PRICE_NOT_NUMBER, REJECT, "non-numeric unit price",
            text(batch.column("unit_price")))  # fmt: skip

    codes = pd.Series(product_id, dtype=object)
    listed = {c.upper() for c in mapping.non_product.codes}
    v.apply(codes.str.upper().isin(listed).to_numpy(), EXCLUDE, "non-product code")
    if mapping.non_product.product_pattern is not None:
        matches = codes.str.match(mapping.non_product.product_pattern).to_numpy(dtype=bool)
        v.apply(~matches, EXCLUDE, "code outside the product pattern")
    v.apply(customer_id == "", EXCLUDE, "no customer")

    rule = mapping.returns.credit_lines
    credit = np.zeros(n, dtype=bool)
    if rule.order_id_prefix is not None:
        credit |= (
            pd.Series(order_id, dtype=object)
            .str.startswith(rule.order_id_prefix)
            .to_numpy(dtype=bool)
        )
    if rule.negative_quantity:
        credit |= units < 0
    v.apply(units == 0, EXCLUDE, "zero quantity")
    v.apply(~credit & (units < 0), EXCLUDE, "negative quantity outside a credit")
    v.apply(credit & (units > 0), EXCLUDE, "positive quantity on a credit")

    v.apply(np.abs(units) > MAX_QUANTITY, REJECT, "quantity out of range",
            text(batch.column("quantity")))  # fmt: skip
    raw_price = text(batch.column("unit_price"))
    v.apply(price_status == PRICE_NEGATIVE, REJECT, "negative unit price", raw_price)
    v.apply(price_status == PRICE_PRECISION, REJECT, "unit price with more than 4 decimals",
            raw_price)  # fmt: skip
    v.apply(price_status == PRICE_TOO_LARGE, REJECT, "unit price out of range", raw_price)
    sku = column("sku") if cols.sku else product_id
    category_raw = column("category")
    v.apply(_long(order_id, customer_id, product_id, sku, category_raw), REJECT,
            "id longer than 128 characters")  # fmt: skip

    if cols.currency:
        currency, bad_currency = mapped(column("currency"), mapping.values.currency, _CURRENCY)
        v.apply(bad_currency, REJECT, "unknown currency code", column("currency"))
    else:
        currency = np.full(n, mapping.defaults.currency, dtype=object)

    keep = v.open
    out = Sorted(kept=pd.DataFrame(), rows=n)
    defaults = mapping.defaults

    def or_default(name: str, table: Any, valid: Any, default: str, counted: BoolArray) -> Any:
        if name not in names:  # no such column mapped: the default, not counted
            return np.full(n, str(default), dtype=object)
        return _or_default(column(name), table, valid, str(default), counted, name, out)

    country = or_default("country", mapping.values.country, _COUNTRY, defaults.country, keep)
    channel = or_default("channel", mapping.values.channel, _CHANNELS, defaults.channel, keep)
    reason = or_default(
        "return_reason", mapping.values.return_reason, _REASONS, defaults.reason_code, keep & credit
    )
    category = np.where(category_raw == "", defaults.category, category_raw)
    if cols.category:
        out.defaulted["category"] += int((keep & (category_raw == "")).sum())
    line = (
        pd.to_numeric(pd.Series(column("line"), dtype=object), errors="coerce").to_numpy()
        if cols.line
        else np.zeros(n)
    )

    for kind, reason_text, count in _tally(v):
        if kind == EXCLUDE:
            out.excluded[reason_text] += count
    rejected = np.flatnonzero(v.kind == REJECT)
    out.rejects = [
        Reject(file_index, int(chunk.rows[i]), str(v.reason[i]), str(v.detail[i])) for i in rejected
    ]
    out.rejects.extend(
        Reject(file_index, m.row, "malformed row", m.reason) for m in chunk.malformed
    )
    out.kept = pd.DataFrame(
        {
            "file": np.full(int(keep.sum()), file_index, dtype=np.int32),
            "row": chunk.rows[keep],
            "order_id": order_id[keep],
            "customer_id": customer_id[keep],
            "ts": seconds[keep],
            "product_id": product_id[keep],
            "sku": sku[keep],
            "quantity": np.abs(units[keep]),
            "unit_price": price[keep],
            "currency": currency[keep],
            "category": category[keep],
            "channel": channel[keep],
            "country": country[keep],
            "reason": reason[keep],
            "line": line[keep],
            "credit": credit[keep],
        }
    )
    return out


def _tally(v: _Verdicts) -> list[tuple[str, str, int]]:
    decided = ~v.open
    if not decided.any():
        return []
    pairs = Counter(zip(v.kind[decided], v.reason[decided], strict=True))
    return [(kind, reason, count) for (kind, reason), count in pairs.items()]


def _or_default(
    values: ObjectArray,
    table: dict[str, Any],
    valid: re.Pattern[str] | frozenset[str],
    default: str,
    counted: BoolArray,
    name: str,
    out: Sorted,
) -> ObjectArray:
    """Mapped values, or `default` where a value is missing or unmapped (counted among the
    `counted` rows)."""
    result, unmapped = mapped(values, {k: str(v) for k, v in table.items()}, valid)
    out.defaulted[name] += int((unmapped & counted).sum())
    return np.where(unmapped, str(default), result)
