"""The five input event types, keyed by customer on the input topics."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator
from pydantic_core import PydanticCustomError

from schemas.common import (
    MAX_LINES,
    MONEY_MAX,
    SCHEMA_VERSION,
    Contract,
    CountryCode,
    CurrencyCode,
    Identifier,
    ItemCondition,
    LoyaltyTier,
    MarketingChannel,
    Money,
    OrderChannel,
    PaymentMethod,
    Quantity,
    ReasonCode,
    Resolution,
    ReturnMethod,
    ReturnType,
    TouchAction,
    UtcDatetime,
)


class InputEventBase(Contract):
    """Fields every input event carries."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: Identifier = Field(description="Globally unique; redeliveries repeat it.")
    occurred_at: UtcDatetime = Field(description="Event time, RFC 3339 with an offset.")
    customer_id: Identifier


class OrderLine(Contract):
    sku: Identifier
    product_id: Identifier
    category: Identifier
    size: Identifier | None = None
    color: Identifier | None = None
    unit_price: Money
    quantity: Quantity
    discount_amount: Money = Field(
        default=Decimal("0"), description="Discount on the whole line, in the order currency."
    )


class OrderPlaced(InputEventBase):
    event_type: Literal["order_placed"] = "order_placed"
    order_id: Identifier
    channel: OrderChannel
    currency: CurrencyCode
    lines: list[OrderLine] = Field(
        min_length=1,
        max_length=MAX_LINES,
        description=(
            "1 to 10,000 lines. Real wholesale orders run to several hundred lines; the cap "
            "bounds what one event costs the worker, whose feature state keeps every line. "
            "The order's total (unit_price x quantity over its lines) must itself be a money "
            "amount (below 1e14), so it stays exact in the worker."
        ),
    )
    payment_method: PaymentMethod
    shipping_country: CountryCode
    campaign_id: Identifier | None = None
    promo_code: Identifier | None = None

    @field_validator("lines")
    @classmethod
    def _total_is_money(cls, lines: list[OrderLine]) -> list[OrderLine]:
        total = sum(line.unit_price * line.quantity for line in lines)
        if total > MONEY_MAX:
            raise ValueError(f"order total {total:,} exceeds the largest amount, {MONEY_MAX:,}")
        return lines


class ReturnRequestLine(Contract):
    sku: Identifier
    quantity: Quantity
    reason_code: ReasonCode


class ReturnRequested(InputEventBase):
    event_type: Literal["return_requested"] = "return_requested"
    return_id: Identifier
    order_id: Identifier
    lines: list[ReturnRequestLine] = Field(
        min_length=1,
        max_length=MAX_LINES,
        description="1 to 10,000 lines, as for orders: a return may take back a whole order.",
    )
    return_type: ReturnType
    method: ReturnMethod
    preferred_resolution: Resolution


class ReceivedLine(Contract):
    sku: Identifier
    quantity: Quantity
    condition: ItemCondition


class ReturnReceived(InputEventBase):
    event_type: Literal["return_received"] = "return_received"
    return_id: Identifier
    order_id: Identifier
    lines: list[ReceivedLine] = Field(
        min_length=1,
        max_length=MAX_LINES,
        description="1 to 10,000 lines, as for orders: a return may take back a whole order.",
    )
    refund_amount: Money


class CampaignTouch(InputEventBase):
    event_type: Literal["campaign_touch"] = "campaign_touch"
    campaign_id: Identifier
    channel: MarketingChannel
    action: TouchAction
    discount_pct: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] | None = Field(
        default=None, description="The campaign's discount, 0 to 100 %, if it offers one."
    )


AttributeValue = (
    Annotated[StrictStr, Field(max_length=1_024)]
    | StrictBool
    | StrictInt
    | Annotated[StrictFloat, Field(allow_inf_nan=False)]
)
"""A profile value. Not NaN or Infinity: no JSON has them (RFC 8259), and such a value would be
written back as null, which this contract refuses."""
MAX_ATTRIBUTES = 64


class CustomerUpdated(InputEventBase):
    event_type: Literal["customer_updated"] = "customer_updated"
    loyalty_tier: LoyaltyTier
    is_staff: bool
    signup_at: UtcDatetime
    country: CountryCode
    email_opt_in: bool
    attributes: dict[Annotated[str, Field(min_length=1, max_length=64)], AttributeValue] = Field(
        default_factory=dict,
        max_length=MAX_ATTRIBUTES,
        description=(
            "Free-form profile attributes that custom segment rules can use: up to 64, names "
            "of 1 to 64 characters, text values up to 1,024 characters (the profile is kept "
            "in the customer's feature state)."
        ),
    )

    @field_validator("attributes", mode="before")
    @classmethod
    def _at_most_64(cls, value: object) -> object:
        """Counted before the entries are validated: pydantic checks a dict's length only after
        validating every entry, and a megabyte of bad entries (four errors each) took the
        worker seconds and some 700 MB to reject."""
        if isinstance(value, dict) and len(value) > MAX_ATTRIBUTES:
            raise PydanticCustomError(
                "too_long",
                "Dictionary should have at most {max_length} items, not {actual_length}",
                {"max_length": MAX_ATTRIBUTES, "actual_length": len(value)},
            )
        return value


InputEvent = Annotated[
    OrderPlaced | ReturnRequested | ReturnReceived | CampaignTouch | CustomerUpdated,
    Field(discriminator="event_type"),
]

INPUT_EVENT_TYPES: dict[str, type[InputEventBase]] = {
    "order_placed": OrderPlaced,
    "return_requested": ReturnRequested,
    "return_received": ReturnReceived,
    "campaign_touch": CampaignTouch,
    "customer_updated": CustomerUpdated,
}
