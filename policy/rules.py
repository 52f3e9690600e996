"""What the stream does with a score: resolutions, retention offers and alerts, by YAML rules.

Decisions are pure functions of the scored row and a small per-customer memory (`Memo`:
when each alert type last fired, when each offer rule last made offers, whether the customer
was already a serial returner). Cooldowns, caps and an offer's validity run on event time, so a
replay or a redelivered batch decides exactly the same.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Literal

import msgpack
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.expressions import CompiledExpression, ExpressionError, Row, compile_expression
from models.segments import FEATURE_KINDS
from schemas.outputs import AlertType, OfferType, RecommendedResolution

HOUR, DAY = 3600, 86_400
EXTRA_NAMES: dict[str, Literal["number", "string"]] = {
    "segment": "string",
    "band": "string",
    "probability": "number",
    "request_items": "number",
    "request_fit_share": "number",
}


class PolicyError(ValueError):
    """The policy file is not valid; the message names the file and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResolutionRule(_Strict):
    when: str | None = None
    resolution: RecommendedResolution


class Cap(_Strict):
    max: int = Field(ge=1)
    per_days: int = Field(ge=1)


class OfferRule(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    event: Literal["order_placed", "return_requested"]
    when: str
    offer: OfferType
    value: Decimal | None = Field(default=None, ge=0)
    expires_in_days: int = Field(ge=1)
    cap: Cap


class Cooldown(_Strict):
    cooldown_hours: float = Field(gt=0)


class SerialReturnerAlert(Cooldown):
    segment: str = "serial_returner"


class WardrobingAlert(Cooldown):
    min_worn_items: int = Field(default=1, ge=1)


class SpikeAlert(Cooldown):
    window_days: int = Field(default=7, ge=1, le=60)
    margin: float = Field(default=0.1, gt=0, le=1)
    min_orders: int = Field(default=200, ge=1)


class AlertRules(_Strict):
    high_risk_order: Cooldown
    serial_returner: SerialReturnerAlert
    suspected_wardrobing: WardrobingAlert
    segment_return_spike: SpikeAlert


class PolicyConfig(_Strict):
    resolutions: list[ResolutionRule] = Field(min_length=1)
    offers: list[OfferRule] = Field(default_factory=list)
    alerts: AlertRules


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


@dataclass(frozen=True, slots=True)
class OfferDecision:
    """An offer made at the event's time and valid for the rule's days from then: both times
    follow the event, never the clock of the worker that decided, so a replay makes the same
    offer and an offer never expires before it is made."""

    rule: str
    offer: OfferType
    value: Decimal | None
    created_at: datetime
    expires_at: datetime


class Policy:
    """A loaded policy file: compiled conditions, ready to decide for scored rows."""

    def __init__(self, config: PolicyConfig, source: str) -> None:
        self.config = config
        kinds = {**FEATURE_KINDS, **EXTRA_NAMES}

        def compiled(text: str, rule: str) -> CompiledExpression:
            try:
                return compile_expression(text, f"{source}: {rule}", None, kinds)
            except ExpressionError as exc:
                raise PolicyError(str(exc)) from None

        self._resolutions = [
            (compiled(r.when, f"resolution {i}") if r.when else None, r.resolution)
            for i, r in enumerate(config.resolutions)
        ]
        if self._resolutions[-1][0] is not None:
            raise PolicyError(f"{source}: the last resolution rule must have no condition")
        self._offers = [(compiled(r.when, f"offer {r.name}"), r) for r in config.offers]

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
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise PolicyError(f"{source}: {problems}") from None

    def resolution(self, row: Row) -> RecommendedResolution:
        for condition, resolution in self._resolutions:
            if condition is None or condition.matches(row):
                return resolution
        raise AssertionError("unreachable: the last rule has no condition")  # pragma: no cover

    def offers(
        self, event_type: str, row: Row, memo: Memo, occurred_at: datetime, key: int
    ) -> list[OfferDecision]:
        """Offers the rules make for this row (event `key`, at event time `occurred_at`),
        within their caps; remembered in `memo`."""
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
            expires_at = occurred_at + timedelta(days=rule.expires_in_days)
            made.append(OfferDecision(rule.name, rule.offer, rule.value, occurred_at, expires_at))
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
