"""The simulator's knobs: a strict pydantic model parsed from YAML.

Every effect the simulator plants (category, tier, bracketing, channel, campaign, season, ...)
is a field here, so an analysis can be checked against a known truth and a null config (no
marketing effects) can be written without touching code. The packaged `default.yaml` documents
each knob; `load_config` turns any mistake into a `ConfigError` that names the bad key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Annotated, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from schemas.outputs import OfferType

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = Path(__file__).with_name("default.yaml")
NO_MARKETING_EFFECTS_CONFIG = Path(__file__).with_name("no_marketing_effects.yaml")

TierName = Literal["none", "silver", "gold", "vip"]
UpgradeTier = Literal["silver", "gold", "vip"]
OrderChannelName = Literal["web", "app", "store", "marketplace"]
PaymentName = Literal[
    "card",
    "paypal",
    "bnpl",
    "wallet",
    "gift_card",
    "bank_transfer",
    "cash_on_delivery",
    "store_credit",
    "other",
]
MarketingChannelName = Literal[
    "email",
    "sms",
    "push",
    "paid_social",
    "paid_search",
    "display",
    "affiliate",
    "influencer",
    "organic_social",
]
ReasonName = Literal[
    "size_too_small",
    "size_too_large",
    "not_as_described",
    "damaged",
    "defective",
    "wrong_item",
    "changed_mind",
    "arrived_late",
    "better_price_elsewhere",
    "other",
]
ConditionName = Literal["as_new", "worn", "damaged", "missing_parts", "wrong_item"]
MethodName = Literal["mail", "store", "pickup"]
ResolutionName = Literal["refund", "store_credit", "exchange"]

Probability = Annotated[float, Field(ge=0, le=1)]
Weight = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.+-]+$")]
DayRange = Annotated[list[Positive], Field(min_length=2, max_length=2, description="[low, high]")]
MonthDay = Annotated[str, Field(pattern=r"^\d{2}-\d{2}$", description="MM-DD, every year")]


_MAX_ERRORS_SHOWN = 12


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key at fault."""


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def _check_month_day(value: str) -> str:
    month, day = (int(part) for part in value.split("-"))
    date(2024, month, day)  # leap year, so 02-29 is allowed; raises ValueError otherwise
    return value


def _check_weights(weights: Iterable[float], what: str) -> None:
    if sum(weights) <= 0:
        raise ValueError(f"{what} needs at least one positive weight")


class ShareEffect(_Strict):
    """How common a value is (relative weight) and what it adds to the return log-odds."""

    share: Weight
    return_effect: float = 0.0


class CountryConfig(_Strict):
    code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    share: Weight
    price_factor: Positive = Field(description="Local price = base price x this.")
    return_effect: float = 0.0
    stores: list[Name] = Field(default_factory=list)


class SegmentConfig(_Strict):
    share: Weight
    category_boost: dict[Name, Positive] = Field(default_factory=dict)


class CustomersConfig(_Strict):
    existing_share: Probability
    max_tenure_years: Positive
    staff_share: Probability
    email_opt_in_share: Probability
    serial_returner_share: Probability
    bracketer_share: Probability
    store_shopper_share: Probability
    activity_sigma: Annotated[float, Field(ge=0, le=3)]
    initial_tiers: dict[TierName, Weight]
    age_bands: dict[Name, ShareEffect]
    newsletter_segments: dict[Name, SegmentConfig]

    @model_validator(mode="after")
    def _weights(self) -> Self:
        _check_weights(self.initial_tiers.values(), "initial_tiers")
        _check_weights((v.share for v in self.age_bands.values()), "age_bands")
        _check_weights((v.share for v in self.newsletter_segments.values()), "segments")
        return self


class TiersConfig(_Strict):
    spend_thresholds: dict[UpgradeTier, Positive]
    order_rate_multiplier: dict[TierName, Positive]
    return_effect: dict[TierName, float]

    @model_validator(mode="after")
    def _complete(self) -> Self:
        for field, expected in (
            ("spend_thresholds", ("silver", "gold", "vip")),
            ("order_rate_multiplier", ("none", "silver", "gold", "vip")),
            ("return_effect", ("none", "silver", "gold", "vip")),
        ):
            missing = [t for t in expected if t not in getattr(self, field)]
            if missing:
                raise ValueError(f"{field} is missing tiers {missing}")
        t = self.spend_thresholds
        if not t["silver"] < t["gold"] < t["vip"]:
            raise ValueError("spend_thresholds must increase: silver < gold < vip")
        return self


class OrdersConfig(_Strict):
    organic_per_year: Annotated[float, Field(ge=0)]
    basket_size_weights: list[Weight] = Field(min_length=1, max_length=20)
    multi_quantity_prob: Probability
    preferred_payment_prob: Probability
    preferred_channel_prob: Probability
    staff_discount_pct: Annotated[float, Field(ge=0, le=100)]
    channels: dict[OrderChannelName, ShareEffect]
    payment_methods: dict[PaymentName, ShareEffect]

    @model_validator(mode="after")
    def _weights(self) -> Self:
        _check_weights(self.basket_size_weights, "basket_size_weights")
        _check_weights((v.share for v in self.channels.values()), "channels")
        _check_weights((v.share for v in self.payment_methods.values()), "payment_methods")
        return self


class BracketingConfig(_Strict):
    order_prob: Probability
    bracketer_order_prob: Probability
    extra_variant_weights: list[Weight] = Field(min_length=1, max_length=4)
    extra_return_prob: Probability


class CategoryConfig(_Strict):
    share: Weight
    products: Annotated[int, Field(ge=1, le=100_000)]
    price_median: Positive
    price_sigma: Annotated[float, Field(ge=0, le=2)]
    sizes: list[Name] = Field(default_factory=list)
    colors: list[Name] = Field(default_factory=list)
    return_effect: float
    product_effect_sigma: Annotated[float, Field(ge=0, le=3)]
    reasons: dict[ReasonName, Weight]
    service_share: Probability = Field(description="Share of defect returns that are warranty.")
    end_of_life_prob: Probability = 0.0

    @field_validator("reasons")
    @classmethod
    def _reasons(cls, value: dict[str, float]) -> dict[str, float]:
        _check_weights(value.values(), "reasons")
        return value


class ChannelConfig(_Strict):
    touches_per_year: Annotated[float, Field(ge=0)]
    needs_opt_in: bool = False
    open_prob: Probability = 0.0
    click_prob: Probability
    conversion_prob: Probability
    return_effect: float = 0.0


class CampaignConfig(_Strict):
    id: Name
    channel: MarketingChannelName
    weight: Positive = 1.0
    discount_pct: Annotated[float, Field(gt=0, le=100, multiple_of=0.01)] | None = None
    promo_code: Name | None = None
    return_uplift: float = 0.0
    active_from: MonthDay | None = None
    active_to: MonthDay | None = None

    @field_validator("active_from", "active_to")
    @classmethod
    def _month_day(cls, value: str | None) -> str | None:
        return None if value is None else _check_month_day(value)

    @model_validator(mode="after")
    def _window(self) -> Self:
        if (self.active_from is None) != (self.active_to is None):
            raise ValueError("active_from and active_to go together")
        if self.promo_code is not None and self.discount_pct is None:
            raise ValueError("a promo_code needs a discount_pct")
        return self


class MarketingConfig(_Strict):
    attribution_window_days: Positive
    tag_campaign_prob: Probability
    promo_use_prob: Probability
    discount_effect_per_10pct: float
    channels: dict[MarketingChannelName, ChannelConfig]
    campaigns: list[CampaignConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _campaigns(self) -> Self:
        ids = [c.id for c in self.campaigns]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"campaign ids must be unique; repeated: {duplicates}")
        unknown = sorted({c.channel for c in self.campaigns} - set(self.channels))
        if unknown:
            raise ValueError(
                f"campaigns use channels with no entry in marketing.channels: {unknown}"
            )
        return self


class SeasonWindow(_Strict):
    name: Name
    start: MonthDay
    end: MonthDay
    order_multiplier: Positive = 1.0
    touch_multiplier: Positive = 1.0

    @field_validator("start", "end")
    @classmethod
    def _month_day(cls, value: str) -> str:
        return _check_month_day(value)


class GiftConfig(_Strict):
    start: MonthDay
    end: MonthDay
    share: Probability
    return_effect: float
    returns_from: MonthDay

    @field_validator("start", "end", "returns_from")
    @classmethod
    def _month_day(cls, value: str) -> str:
        return _check_month_day(value)


class SeasonalityConfig(_Strict):
    windows: list[SeasonWindow] = Field(default_factory=list)
    gift: GiftConfig
    hour_weights: list[Weight] = Field(min_length=24, max_length=24)

    @field_validator("hour_weights")
    @classmethod
    def _hours(cls, value: list[float]) -> list[float]:
        _check_weights(value, "hour_weights")
        return value


class ReturnsConfig(_Strict):
    base_log_odds: float
    customer_sigma: Annotated[float, Field(ge=0, le=3)]
    serial_returner_effect: float
    staff_effect: float
    new_customer_effect: float
    new_customer_days: Annotated[int, Field(ge=0)]
    window_days: Annotated[int, Field(ge=1)]
    request_delay_median_days: Positive
    request_delay_sigma: Annotated[float, Field(ge=0, le=3)]
    service_delay_days: DayRange
    end_of_life_delay_days: DayRange
    receive_delay_days: DayRange
    missing_line_prob: Probability
    methods: dict[MethodName, Weight]
    store_order_store_return_prob: Probability
    resolution_size: dict[ResolutionName, Weight]
    resolution_other: dict[ResolutionName, Weight]
    resolution_service: dict[ResolutionName, Weight]
    conditions: dict[ConditionName, Weight]
    serial_conditions: dict[ConditionName, Weight]
    defect_conditions: dict[ConditionName, Weight]
    end_of_life_conditions: dict[ConditionName, Weight]
    refund_share: dict[ConditionName, Probability]

    @model_validator(mode="after")
    def _weights(self) -> Self:
        for field in (
            "methods",
            "resolution_size",
            "resolution_other",
            "resolution_service",
            "conditions",
            "serial_conditions",
            "defect_conditions",
            "end_of_life_conditions",
        ):
            _check_weights(getattr(self, field).values(), field)
        for field in ("service_delay_days", "end_of_life_delay_days", "receive_delay_days"):
            low, high = getattr(self, field)
            if low > high:
                raise ValueError(f"{field} must be [low, high] with low <= high")
        return self


OFFER_TYPES = frozenset(t.value for t in OfferType)


class OfferEffect(_Strict):
    """What an offer made changes, planted by `simulate --offers` (see `simulator.offer_effects`).

    `return_change` < 0: an offered order that would have come back is kept with probability
    -return_change (the return rate falls by that share of itself); > 0: one that would have
    been kept comes back with probability return_change. Only offers made on an order act on
    its returns: an offer on a return request comes after the return it answers.
    `repurchase_change`: with this probability the customer places one more order within
    90 days of the offer (the repurchase rate rises by it times the share who would not have
    ordered again anyway).
    """

    return_change: Annotated[float, Field(ge=-1, le=1)] = 0.0
    repurchase_change: Probability = 0.0


class SimulatorConfig(_Strict):
    """Everything `returnrisk simulate` needs besides size, seed and start date."""

    returns: ReturnsConfig
    customers: CustomersConfig
    countries: list[CountryConfig] = Field(min_length=1)
    tiers: TiersConfig
    orders: OrdersConfig
    bracketing: BracketingConfig
    categories: dict[Name, CategoryConfig] = Field(min_length=1)
    marketing: MarketingConfig
    seasonality: SeasonalityConfig
    offer_effects: dict[str, OfferEffect] = Field(
        default_factory=dict, description="Per offer type; absent types change nothing."
    )

    @model_validator(mode="after")
    def _references(self) -> Self:
        unknown_offers = sorted(set(self.offer_effects) - OFFER_TYPES)
        if unknown_offers:
            raise ValueError(
                f"offer_effects names unknown offer types {unknown_offers}; "
                f"known: {sorted(OFFER_TYPES)}"
            )
        for name, segment in self.customers.newsletter_segments.items():
            unknown = sorted(set(segment.category_boost) - set(self.categories))
            if unknown:
                raise ValueError(f"newsletter segment {name!r} boosts unknown categories {unknown}")
        _check_weights((c.share for c in self.countries), "countries")
        _check_weights((c.share for c in self.categories.values()), "categories")
        return self


def _describe(err: ErrorDetails) -> tuple[int, str]:
    """(rank, text) of one validation error: unknown keys first, as a typo explains the rest."""
    key = ".".join(str(part) for part in err["loc"] if part != "[key]") or "(top level)"
    if err["type"] == "extra_forbidden":
        return 0, f"key '{key}': unknown key"
    if "[key]" in err["loc"]:
        expected = err.get("ctx", {}).get("expected", "another key")
        return 0, f"key '{key}': unknown key; expected {expected}"
    if err["type"] == "missing":
        return 2, f"key '{key}': required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    if not isinstance(err["input"], dict | list):
        message += f" (got {err['input']!r})"
    return 1, f"key '{key}': {message}"


def _format_errors(source: Path, exc: ValidationError) -> str:
    described = sorted(
        (_describe(err) for err in exc.errors(include_url=False)), key=lambda d: d[0]
    )
    lines = [f"  {text}" for _, text in described[:_MAX_ERRORS_SHOWN]]
    if len(described) > _MAX_ERRORS_SHOWN:
        lines.append(f"  ... and {len(described) - _MAX_ERRORS_SHOWN} more")
    if any(rank == 2 for rank, _ in described):
        lines.append(f"  (every key is required: start from a copy of {DEFAULT_CONFIG})")
    return f"{source}: invalid simulator config\n" + "\n".join(lines)


def parse_config(data: object, source: Path) -> SimulatorConfig:
    """Validate already-loaded YAML data; `source` is only used in error messages."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level")
    try:
        return SimulatorConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None


def load_config(path: Path | None = None) -> SimulatorConfig:
    """Read a YAML config (the packaged default when `path` is None)."""
    source = path or DEFAULT_CONFIG
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    logger.debug("loaded simulator config from %s", source)
    return parse_config(data, source)
