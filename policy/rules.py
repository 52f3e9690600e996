"""What the stream does with a score: resolutions, retention offers and alerts, by YAML rules.

Decisions are pure functions of the scored row and a small per-customer memory (`Memo`:
when each alert type last fired, when each offer rule last made offers, whether the customer
was already a serial returner). Cooldowns, caps and an offer's validity run on event time, so a
replay or a redelivered batch decides exactly the same.

A rule may list several options and take the one with the highest expected value
(policy/economics.py). Every offer rule keeps a random share of customers out (`holdout`, by a
hash of customer and rule): they are not made the offer, and the decision says so, so the
offer's effect can be measured against them.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

import msgpack
import yaml
from pydantic import Field, ValidationError, model_validator

from models.expressions import CompiledExpression, ExpressionError, Row, compile_expression
from models.segments import FEATURE_KINDS
from policy.economics import Economics, EconomicsModel, StrictModel, Valued, order_value
from schemas.outputs import AlertType, OfferType, RecommendedResolution

HOUR, DAY = 3600, 86_400
_Option = TypeVar("_Option")
EXTRA_NAMES: dict[str, Literal["number", "string"]] = {
    "segment": "string",
    "band": "string",
    "probability": "number",
    "request_items": "number",
    "request_fit_share": "number",
}


class PolicyError(ValueError):
    """The policy file is not valid; the message names the file and the problem."""


def _one_form(single: str, given: object, options: object) -> None:
    if (given is None) == (options is None):
        raise ValueError(f"give either `{single}` or `options`, not both or neither")


class ResolutionRule(StrictModel):
    when: str | None = None
    resolution: RecommendedResolution | None = None
    options: list[RecommendedResolution] | None = Field(default=None, min_length=1)
    """Several resolutions: the one with the highest expected value (economics) is chosen."""

    @model_validator(mode="after")
    def _resolution_or_options(self) -> ResolutionRule:
        _one_form("resolution", self.resolution, self.options)
        return self

    @property
    def choices(self) -> list[RecommendedResolution]:
        return self.options or [self.resolution]  # type: ignore[list-item]


class Cap(StrictModel):
    max: int = Field(ge=1)
    per_days: int = Field(ge=1)


class OfferOption(StrictModel):
    offer: OfferType
    value: Decimal | None = Field(default=None, ge=0)


DEFAULT_HOLDOUT = 0.1


class OfferRule(StrictModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    event: Literal["order_placed", "return_requested"]
    when: str
    offer: OfferType | None = None
    value: Decimal | None = Field(default=None, ge=0)
    options: list[OfferOption] | None = Field(default=None, min_length=1)
    """Several offers: the one with the highest expected value (economics) is made."""
    expires_in_days: int = Field(ge=1)
    cap: Cap
    holdout: float = Field(
        default=DEFAULT_HOLDOUT,
        ge=0,
        le=1,
        description="share of customers kept out of this rule's offers, to measure its effect",
    )

    @model_validator(mode="after")
    def _offer_or_options(self) -> OfferRule:
        _one_form("offer", self.offer, self.options)
        if self.options is not None and self.value is not None:
            raise ValueError("with `options`, give each option's value, not the rule's")
        return self

    @property
    def choices(self) -> list[OfferOption]:
        return self.options or [OfferOption(offer=self.offer, value=self.value)]


class Cooldown(StrictModel):
    cooldown_hours: float = Field(gt=0)


class SerialReturnerAlert(Cooldown):
    segment: str = "serial_returner"


class WardrobingAlert(Cooldown):
    min_worn_items: int = Field(default=1, ge=1)


class SpikeAlert(Cooldown):
    window_days: int = Field(default=7, ge=1, le=60)
    margin: float = Field(default=0.1, gt=0, le=1)
    min_orders: int = Field(default=200, ge=1)


class AlertRules(StrictModel):
    high_risk_order: Cooldown
    serial_returner: SerialReturnerAlert
    suspected_wardrobing: WardrobingAlert
    segment_return_spike: SpikeAlert


class PolicyConfig(StrictModel):
    resolutions: list[ResolutionRule] = Field(min_length=1)
    offers: list[OfferRule] = Field(default_factory=list)
    alerts: AlertRules
    economics: Economics | None = None

    @model_validator(mode="after")
    def _options_need_economics(self) -> PolicyConfig:
        if self.economics is not None:
            return self
        listing = [f"offers.{r.name}" for r in self.offers if r.options] + [
            f"resolutions.{i}" for i, r in enumerate(self.resolutions) if r.options
        ]
        if listing:
            raise ValueError(
                f"{', '.join(listing)} choose among options by expected value: "
                "give an `economics` section"
            )
        return self


@dataclass(slots=True)
class Memo:
    """What a customer's decisions remember, stored beside the features (`Stored.memo`).

    Each decision remembers the event that made it (a 32-bit key of its id), so the same event
    decided again, as a batch redelivered after its state was written but before its records
    were produced is, makes the same decision again (same ids, consumers dedupe) instead of
    finding its own alert in cooldown and its own offer within the cap."""

    alerted: dict[str, list[int]] = field(default_factory=dict)  # type -> [event time, key]
    offered: dict[str, list[list[int]]] = field(default_factory=dict)  # rule -> [[time, key]]
    serial: bool = False  # was in the serial-returner segment at the last decision
    segment: str = "unknown"  # segment at the last decision, for alerts on unscored events

    def alerted_for(self, alert_type: str, key: int) -> bool:
        last = self.alerted.get(alert_type)
        return last is not None and last[1] == key

    def encode(self) -> bytes:
        packed: bytes = msgpack.packb([self.alerted, self.offered, self.serial, self.segment])
        return packed

    @classmethod
    def decode(cls, blob: bytes) -> Memo:
        if not blob:
            return cls()
        alerted, offered, serial, segment = msgpack.unpackb(blob, strict_map_key=False)
        return cls(alerted, offered, serial, segment)


def event_key(event_id: str) -> int:
    """A short key of an event id, enough to recognise one customer's redelivered event."""
    return zlib.crc32(event_id.encode())


def _resolution_value(
    economics: EconomicsModel, option: RecommendedResolution, row: Row
) -> float | None:
    action = economics.economics.resolutions.get(option)
    return economics.value_of(action, row, order_value(row))


def _offer_value(economics: EconomicsModel, option: OfferOption, row: Row) -> float | None:
    action = economics.economics.offers.get(option.offer)
    return economics.value_of(action, row, order_value(row), option.value)


def held_out(customer_id: str, rule: str, share: float) -> bool:
    """Whether the customer is in the rule's random holdout: a hash of both, uniform on
    [0, 1), below `share`. The same customer is always on the same side of one rule, and the
    sides of different rules are independent."""
    digest = hashlib.blake2b(f"{rule}/{customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share


@dataclass(frozen=True, slots=True)
class OfferDecision:
    """An offer made at the event's time and valid for the rule's days from then: both times
    follow the event, never the clock of the worker that decided, so a replay makes the same
    offer and an offer never expires before it is made. `held_out`: the customer is in the
    rule's holdout, so the offer is recorded but not made."""

    rule: str
    offer: OfferType
    value: Decimal | None
    created_at: datetime
    expires_at: datetime
    held_out: bool = False
    expected_value: float | None = None
    runner_up: OfferType | None = None
    runner_up_expected_value: float | None = None


class Policy:
    """A loaded policy file: compiled conditions, ready to decide for scored rows."""

    def __init__(self, config: PolicyConfig, source: str) -> None:
        self.config, self.source = config, source
        kinds = {**FEATURE_KINDS, **EXTRA_NAMES}

        def compiled(text: str, rule: str) -> CompiledExpression:
            try:
                return compile_expression(text, f"{source}: {rule}", None, kinds)
            except ExpressionError as exc:
                raise PolicyError(str(exc)) from None

        self._resolutions = [
            (compiled(r.when, f"resolution {i}") if r.when else None, r)
            for i, r in enumerate(config.resolutions)
        ]
        if self._resolutions[-1][0] is not None:
            raise PolicyError(f"{source}: the last resolution rule must have no condition")
        self._offers = [(compiled(r.when, f"offer {r.name}"), r) for r in config.offers]
        self.economics = EconomicsModel(config.economics) if config.economics else None

    @classmethod
    def load(cls, path: Path | None = None) -> Policy:
        """A policy file, or the packaged policy/policy.yaml."""
        if path is None:
            text, source = (
                resources.files("policy").joinpath("policy.yaml").read_text(),
                "policy.yaml",
            )
        else:
            text, source = path.read_text(), str(path)
        try:
            return cls(PolicyConfig.model_validate(yaml.safe_load(text)), source)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
            raise PolicyError(f"{source}: {problems}") from None

    def check_categories(self, known: frozenset[str], where: str) -> None:
        """Refuse economics for a category the model has never seen: a misspelt category
        would silently get the default's money."""
        unknown = sorted(self.economics.category_names - known) if self.economics else []
        if unknown:
            raise PolicyError(
                f"{self.source}: economics.categories.{unknown[0]}: unknown category "
                f"(not among the {len(known)} categories of {where})"
            )

    def resolution(self, row: Row) -> RecommendedResolution:
        """The first matching rule's resolution, its best option by expected value. Instant
        store credit only where its expected loss is within the economics' bound; where it is
        not, the rule's other options, else the next rule."""
        for condition, rule in self._resolutions:
            if condition is not None and not condition.matches(row):
                continue
            allowed = [r for r in rule.choices if self._may_credit(r, row)]
            if allowed:
                return self._ranked(allowed, row, _resolution_value)[0].option
        return RecommendedResolution.REFUND_AFTER_INSPECTION

    def _may_credit(self, resolution: RecommendedResolution, row: Row) -> bool:
        if resolution is not RecommendedResolution.INSTANT_STORE_CREDIT or self.economics is None:
            return True
        return self.economics.instant_credit_allowed(row, order_value(row))

    def _ranked(
        self,
        options: list[_Option],
        row: Row,
        value: Callable[[EconomicsModel, _Option, Row], float | None],
    ) -> list[Valued[_Option]]:
        """Options by expected value, highest first (the listed order among equals and when
        values are unknown); one option, or no economics: as listed, unvalued."""
        if self.economics is None:
            return [Valued(option, None) for option in options]
        valued = [Valued(option, value(self.economics, option, row)) for option in options]
        if len(valued) == 1 or any(v.expected_value is None for v in valued):
            return valued
        return sorted(valued, key=lambda v: -(v.expected_value or 0.0))

    def offers(
        self,
        event_type: str,
        row: Row,
        memo: Memo,
        occurred_at: datetime,
        key: int,
        customer_id: str,
    ) -> list[OfferDecision]:
        """Offers the rules make for this row (event `key`, at event time `occurred_at`),
        within their caps, remembered in `memo`; held-out customers' offers are decided and
        counted the same way, marked `held_out`."""
        at = int(occurred_at.timestamp())
        made = []
        for condition, rule in self._offers:
            if rule.event != event_type or not condition.matches(row):
                continue
            recent = [
                [t, k]
                for t, k in memo.offered.get(rule.name, [])
                if t > at - rule.cap.per_days * DAY
            ]
            again = any(k == key for _, k in recent)
            if len(recent) >= rule.cap.max and not again:
                continue
            memo.offered[rule.name] = recent if again else [*recent, [at, key]]
            ranked = self._ranked(rule.choices, row, _offer_value)
            best, second = ranked[0], (ranked[1] if len(ranked) > 1 else None)
            made.append(
                OfferDecision(
                    rule.name,
                    best.option.offer,
                    best.option.value,
                    occurred_at,
                    occurred_at + timedelta(days=rule.expires_in_days),
                    held_out=held_out(customer_id, rule.name, rule.holdout),
                    expected_value=best.expected_value,
                    runner_up=second.option.offer if second else None,
                    runner_up_expected_value=second.expected_value if second else None,
                )
            )
        return made

    def alert(self, alert_type: AlertType, memo: Memo, at: int, key: int) -> bool:
        """Whether an alert of this type may fire now for event `key` (its cooldown has
        passed, or this event fired it before); remembered."""
        rule: Cooldown = getattr(self.config.alerts, alert_type.value)
        last = memo.alerted.get(alert_type.value)
        if last is not None and last[1] != key and at - last[0] < rule.cooldown_hours * HOUR:
            return False
        memo.alerted[alert_type.value] = [at, key]
        return True
