"""What a decision is worth in money: the policy file's `economics:` section.

A returns team buys a policy by what it costs and saves, so a rule that lists several options
chooses the one with the highest expected value for this customer and order, and instant store
credit is granted only while its expected loss stays under a bound. The numbers are the
retailer's own: margins, the cost of a return, resale losses by received condition, what each
offer costs, and each action's effect on returns and repurchase (assumed, or measured by the
offers' random holdouts in `returnrisk report`).

Amounts are in the shop's currency. Expected values are estimates, computed in floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.expressions import Row
from schemas.common import ItemCondition
from schemas.outputs import OfferType, RecommendedResolution

NOT_RECEIVED = "not_received"
CONDITIONS: tuple[str, ...] = (*(c.value for c in ItemCondition), NOT_RECEIVED)
"""The received conditions a resale loss is given for, and a return that never comes back."""
DEFAULT = "default"
CONDITION_PRIOR_ITEMS = 5.0
"""Pseudo-items at the category's condition mix added to a customer's own received items, so
one worn item does not make a customer's next return certainly worn."""

Share = float
T = TypeVar("T")
Condition = Literal["as_new", "worn", "damaged", "missing_parts", "wrong_item", "not_received"]


class StrictModel(BaseModel):
    """A section of the policy file: unknown keys are refused, values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_shares(values: dict[Condition, Share], field: str) -> None:
    bad = [f"{field}.{c}: {v} is outside 0..1" for c, v in values.items() if not 0 <= v <= 1]
    if bad:
        raise ValueError("; ".join(bad))


class CategoryEconomics(StrictModel):
    """One category's money; a category other than `default` may give only what differs."""

    margin_share: Share | None = Field(default=None, ge=0, le=1, description="of the price")
    return_cost: Decimal | None = Field(default=None, ge=0, description="shipping and handling")
    resale_loss: dict[Condition, Share] | None = Field(
        default=None, description="share of the goods' cost lost on resale, by condition"
    )
    condition_mix: dict[Condition, Share] | None = Field(
        default=None, description="how returned items come back, by condition (sums to 1)"
    )

    @model_validator(mode="after")
    def _valid_shares(self) -> CategoryEconomics:
        if self.resale_loss is not None:
            _check_shares(self.resale_loss, "resale_loss")
        if self.condition_mix is not None:
            _check_shares(self.condition_mix, "condition_mix")
            total = sum(self.condition_mix.values())
            if not math.isclose(total, 1.0, abs_tol=1e-6):
                raise ValueError(f"condition_mix sums to {total:g}, not 1")
        return self


class ActionEconomics(StrictModel):
    """What an offer or resolution costs when made, and what it changes."""

    cost: Decimal | Literal["value"] = Field(
        default=Decimal(0),
        description="a fixed amount per offer made, or 'value': the offer's credit or bonus",
    )
    return_change: float = Field(
        default=0.0,
        ge=-1,
        le=1,
        description="relative change in the chance the order is returned (-0.2: a fifth fewer)",
    )
    repurchase_change: float = Field(
        default=0.0,
        ge=-1,
        le=1,
        description="absolute change in the chance of another order within 90 days",
    )

    @model_validator(mode="after")
    def _cost_not_negative(self) -> ActionEconomics:
        if isinstance(self.cost, Decimal) and self.cost < 0:
            raise ValueError(f"cost {self.cost} is negative")
        return self


class InstantCredit(StrictModel):
    max_expected_loss: Decimal = Field(
        ge=0,
        description=(
            "instant store credit is granted only when the credit expected to be lost (items "
            "that come back worn, damaged or never) is at most this amount"
        ),
    )


class Economics(StrictModel):
    categories: dict[str, CategoryEconomics]
    offers: dict[OfferType, ActionEconomics] = Field(default_factory=dict)
    resolutions: dict[RecommendedResolution, ActionEconomics] = Field(default_factory=dict)
    instant_credit: InstantCredit

    @model_validator(mode="after")
    def _default_is_complete(self) -> Economics:
        default = self.categories.get(DEFAULT)
        if default is None:
            raise ValueError("categories: a 'default' entry is required")
        missing = [name for name, value in default if value is None]
        if missing:
            raise ValueError(f"categories.default: give {', '.join(missing)}")
        for field in ("resale_loss", "condition_mix"):
            given: dict[str, float] = getattr(default, field)
            absent = [c for c in CONDITIONS if c not in given]
            if absent:
                raise ValueError(f"categories.default.{field}: give {', '.join(absent)}")
        return self


@dataclass(frozen=True, slots=True)
class Money:
    """The numbers of one category, resolved against the default."""

    margin_share: float
    return_cost: float
    resale_loss: dict[str, float]
    condition_mix: dict[str, float]

    @property
    def returned_value_loss(self) -> float:
        """The share of a returned item's value lost: its margin, and the resale loss on the
        goods as returned items usually come back."""
        resale = sum(self.condition_mix.get(c, 0.0) * self.resale_loss[c] for c in CONDITIONS)
        return self.margin_share + (1 - self.margin_share) * resale

    def return_loss(self, value: float) -> float:
        """What a sale of `value` loses when it is returned: `returned_value_loss` of it, plus
        the cost of the return."""
        return value * self.returned_value_loss + self.return_cost


@dataclass(frozen=True, slots=True)
class Valued(Generic[T]):
    """An option with its expected value (None when the row lacks the order's value)."""

    option: T
    expected_value: float | None


class EconomicsModel:
    """Expected values of options for scored rows, from a validated `Economics`."""

    def __init__(self, economics: Economics) -> None:
        self.economics = economics
        default = economics.categories[DEFAULT]
        self._money = {
            name: _money(category, default) for name, category in economics.categories.items()
        }

    @property
    def category_names(self) -> frozenset[str]:
        return frozenset(self._money) - {DEFAULT}

    def money(self, category: object) -> Money:
        """A category's numbers; the default's for one the section does not list."""
        default = self._money[DEFAULT]
        return self._money.get(category, default) if isinstance(category, str) else default

    def value_of(
        self,
        action: ActionEconomics | None,
        row: Row,
        value: float | None,
        offer_value: Decimal | None = None,
    ) -> float | None:
        """Expected value of making `action` for this row's order worth `value`: returns saved
        (or added), repurchase margin gained, minus its cost."""
        if value is None:
            return None
        action = action or ActionEconomics()
        money = self.money(row.get("order_top_category"))
        probability = _number(row.get("probability")) or 0.0
        saved = -action.return_change * probability * money.return_loss(value)
        repurchase = _number(row.get("order_value_mean_365d")) or value
        gained = action.repurchase_change * money.margin_share * repurchase
        cost = float(offer_value or 0) if action.cost == "value" else float(action.cost)
        return round(saved + gained - cost, 4)

    def instant_credit_loss(self, row: Row, value: float | None) -> float | None:
        """Credit expected to be lost if a request worth `value` is credited before its items
        are back: items that come back worn or damaged (this customer's own share of received
        items, smoothed to the category's mix) or never come back."""
        if value is None:
            return None
        money = self.money(row.get("order_top_category"))
        received = _number(row.get("returned_items_sum_365d")) or 0.0
        prior = CONDITION_PRIOR_ITEMS
        loss_share = money.condition_mix[NOT_RECEIVED] * money.resale_loss[NOT_RECEIVED]
        for condition, feature in (
            ("worn", "received_worn_count_365d"),
            ("damaged", "received_damaged_count_365d"),
        ):
            own = _number(row.get(feature)) or 0.0
            share = (own + prior * money.condition_mix[condition]) / (max(received, own) + prior)
            loss_share += share * money.resale_loss[condition]
        return round(value * loss_share, 4)

    def instant_credit_allowed(self, row: Row, value: float | None) -> bool:
        loss = self.instant_credit_loss(row, value)
        return loss is not None and loss <= float(self.economics.instant_credit.max_expected_loss)


def _money(category: CategoryEconomics, default: CategoryEconomics) -> Money:
    """A category's numbers, the default's where it gives none."""
    merged = {**default.model_dump(), **category.model_dump(exclude_none=True)}
    return Money(
        float(merged["margin_share"]),
        float(merged["return_cost"]),
        dict(merged["resale_loss"]),
        dict(merged["condition_mix"]),
    )


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def order_value(row: Row) -> float | None:
    """The value at stake: for a return request the requested share of its order's value,
    else the order's value (None when unknown)."""
    value = _number(row.get("order_gross_value"))
    if value is None:
        return None
    requested = _number(row.get("request_items"))
    if requested is None:
        return value
    items = _number(row.get("order_items"))
    return value * min(1.0, requested / items) if items else value
