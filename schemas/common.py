"""Shared field types and enumerations for the event contracts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

SCHEMA_VERSION: Literal[1] = 1


def _to_utc(value: datetime) -> datetime:
    """In UTC. A time near either end of the calendar with an offset (9999-12-31T23:59:59-01:00)
    has no UTC time; Python raises OverflowError, which pydantic does not catch: it is made a
    field error here, or it escaped decoding and stopped the worker at that record."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_out_of_range", "Datetime is outside the years 1 to 9999 in UTC"
        ) from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An RFC 3339 timestamp that must carry an offset; stored normalised to UTC."""

_MONEY_PATTERN = r"^[0-9]{1,14}(\.[0-9]{1,4})?$"
MONEY_MAX = Decimal("99999999999999.9999")
_MONEY_TEXT = (
    "A non-negative exact amount, at most 14 digits before the point and 4 after: room for any "
    "price in any currency, and small enough that totals stay exact integers in the worker."
)
"""The largest amount (14 digits and 4 decimals): an order's total must fit too, which keeps its
value in cents (at most 1e16) within the 64-bit integers of the worker's feature state."""
Money = Annotated[
    Decimal,
    Field(ge=0, le=MONEY_MAX, max_digits=18, decimal_places=4),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _MONEY_PATTERN},
                {"type": "number", "minimum": 0, "exclusiveMaximum": 10**14},
            ],
            "description": _MONEY_TEXT,
        },
        mode="validation",
    ),
    WithJsonSchema(
        {"type": "string", "pattern": _MONEY_PATTERN, "description": _MONEY_TEXT},
        mode="serialization",
    ),
]
"""A non-negative amount as an exact decimal (sent as a JSON string, never a float)."""

MAX_LINES = 10_000
"""Lines per order or return. A real wholesale order runs to several hundred lines (675 at most
in the 2009-2010 year of UCI Online Retail II); 10,000 leaves about 15 times that, while bounding
what one event costs the worker (its lines are kept in the customer's feature state)."""
MAX_QUANTITY = 1_000_000
"""Units on one line. Wholesale lines reach tens of thousands of units (19,152 at most in the
2009-2010 year of UCI Online Retail II); 1,000,000 leaves about 50 times that."""

Identifier = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        description=(
            "An id, code or name of 1 to 128 characters: room for UUIDs, URNs and any "
            "retailer's codes."
        ),
    ),
]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")]
Quantity = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_QUANTITY,
        description=(
            "Units, 1 to 1,000,000: wholesale lines reach tens of thousands of units; the cap "
            "only stops absurd values."
        ),
    ),
]


class Contract(BaseModel):
    """Base of every event: strict types, no unknown fields, immutable once built."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class OrderChannel(StrEnum):
    WEB = "web"
    APP = "app"
    STORE = "store"
    MARKETPLACE = "marketplace"


class PaymentMethod(StrEnum):
    CARD = "card"
    PAYPAL = "paypal"
    BNPL = "bnpl"
    WALLET = "wallet"
    GIFT_CARD = "gift_card"
    BANK_TRANSFER = "bank_transfer"
    CASH_ON_DELIVERY = "cash_on_delivery"
    STORE_CREDIT = "store_credit"
    OTHER = "other"


class ReasonCode(StrEnum):
    SIZE_TOO_SMALL = "size_too_small"
    SIZE_TOO_LARGE = "size_too_large"
    NOT_AS_DESCRIBED = "not_as_described"
    DAMAGED = "damaged"
    DEFECTIVE = "defective"
    WRONG_ITEM = "wrong_item"
    CHANGED_MIND = "changed_mind"
    ARRIVED_LATE = "arrived_late"
    BETTER_PRICE_ELSEWHERE = "better_price_elsewhere"
    OTHER = "other"


class ReturnType(StrEnum):
    COMMERCIAL = "commercial"
    SERVICE = "service"
    END_OF_LIFE = "end_of_life"


class ReturnMethod(StrEnum):
    MAIL = "mail"
    STORE = "store"
    PICKUP = "pickup"


class Resolution(StrEnum):
    REFUND = "refund"
    STORE_CREDIT = "store_credit"
    EXCHANGE = "exchange"


class ItemCondition(StrEnum):
    AS_NEW = "as_new"
    WORN = "worn"
    DAMAGED = "damaged"
    MISSING_PARTS = "missing_parts"
    WRONG_ITEM = "wrong_item"


class MarketingChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    PAID_SOCIAL = "paid_social"
    PAID_SEARCH = "paid_search"
    DISPLAY = "display"
    AFFILIATE = "affiliate"
    INFLUENCER = "influencer"
    ORGANIC_SOCIAL = "organic_social"


class TouchAction(StrEnum):
    IMPRESSION = "impression"
    OPEN = "open"
    CLICK = "click"


class LoyaltyTier(StrEnum):
    NONE = "none"
    SILVER = "silver"
    GOLD = "gold"
    VIP = "vip"
