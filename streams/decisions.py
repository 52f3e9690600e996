"""From scored rows to the records a batch emits: risk scores, alerts and retention offers.

Runs inside `features.batch.process_batch` (as its `decide` step), after the batch's events
are applied and before the states are written, so a customer's alert and offer memory
(`policy.rules.Memo`, kept in `Stored.memo`) commits together with the features. A customer
whose write lost a compare-and-set race is decided again, so what was emitted is counted from
the committed decisions (`count_emitted`), never while deciding.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

import orjson

from features.batch import ScoringRow
from features.redelivery import DEFAULT_MEMORY, RememberedRows, RowMemory
from features.store import Stored
from features.units import epoch
from features.vector import FeatureValues
from models.inference import Score, ScoringModel
from models.segments import segment_row
from policy.economics import order_value
from policy.rules import Memo, OfferDecision, Policy, event_key
from schemas import Alert, InputEvent, Offer, ReturnReceived, ReturnRequested, RiskScore
from schemas.codec import encode_event
from schemas.common import ItemCondition, ReasonCode
from schemas.outputs import AlertType, RecommendedResolution, RiskBand
from streams import metrics
from streams.settings import TopicSettings

_NAMESPACE = uuid.UUID("5b0f6c1e-2a53-4c1b-9d1e-72657475726e")
_FIT_REASONS = frozenset({ReasonCode.SIZE_TOO_SMALL, ReasonCode.SIZE_TOO_LARGE})
INSTANT_CREDIT = RecommendedResolution.INSTANT_STORE_CREDIT


class OutputRecord(NamedTuple):  # a tuple: cheap to send back from the pipeline's process
    topic: str
    key: bytes
    value: bytes


@dataclass(slots=True)
class Decided:
    """What one input event produced."""

    records: list[OutputRecord] = field(default_factory=list)
    scored_source_time: datetime | None = None
    segment: str | None = None
    band: RiskBand | None = None
    """With `segment`, the score's band; None when the event was not scored."""
    alerts: list[AlertType] = field(default_factory=list)
    offers: list[OfferDecision] = field(default_factory=list)
    instant_credit: float | None = None
    """The value a return request's instant store credit grants (an estimate), when granted."""


def count_emitted(decisions: Iterable[Decided]) -> None:
    """Count a batch's scores, alerts and offers in the worker's metrics, once its features
    are written: each decision once, however often its customer was decided."""
    for decided in decisions:
        if decided.segment is not None and decided.band is not None:
            metrics.SCORES.labels(decided.segment, decided.band.value).inc()
        for alert in decided.alerts:
            metrics.ALERTS.labels(alert.value).inc()
        for offer in decided.offers:
            outcome = "held_out" if offer.held_out else "made"
            metrics.OFFERS.labels(offer.rule, offer.offer.value, outcome).inc()
        if decided.instant_credit is not None:
            metrics.INSTANT_CREDITS.labels(decided.segment).inc()
            metrics.INSTANT_CREDIT_VALUE.labels(decided.segment).inc(decided.instant_credit)


def stable_id(*parts: str) -> str:
    """A deterministic id, so a redelivered event yields the same ids (consumers dedupe)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def score_id(source_event_id: str, model_version: str) -> str:
    """The same event scored by the same version always gets the same id."""
    return stable_id(source_event_id, model_version)


def vector_hash(values: FeatureValues) -> str:
    """Hash of a feature vector, so a consumer can tell which inputs produced a score (orjson
    writes a missing value, NaN, as null)."""
    return hashlib.sha256(orjson.dumps(list(values.values()))).hexdigest()[:16]


def policy_row(row: ScoringRow, score: Score) -> dict[str, object]:
    """What policy conditions see: features, profile attributes, the score, the request."""
    view = segment_row(row.values, row.attributes)
    view.update(segment=score.segment, band=score.band.value, probability=score.probability)
    if isinstance(row.event, ReturnRequested):
        items = sum(line.quantity for line in row.event.lines)
        fit = sum(line.quantity for line in row.event.lines if line.reason_code in _FIT_REASONS)
        view.update(request_items=float(items), request_fit_share=fit / items)
    return view


class Decider:
    """Scores a batch's rows with one model call and applies the policy to each."""

    def __init__(
        self,
        model: ScoringModel,
        policy: Policy,
        topics: TopicSettings,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        memory: RowMemory = DEFAULT_MEMORY,
    ) -> None:
        self._model, self._policy, self._topics, self._now = model, policy, topics, now
        self._memory = memory

    def __call__(
        self,
        rows: Sequence[ScoringRow],
        events: Sequence[tuple[int, InputEvent]],
        states: Mapping[str, Stored],
    ) -> dict[int, Decided]:
        receipts = [(i, e) for i, e in events if isinstance(e, ReturnReceived)]
        deciding = {r.event.customer_id for r in rows} | {e.customer_id for _, e in receipts}
        memos = {customer: Memo.decode(states[customer].memo) for customer in deciding}
        decided: dict[int, Decided] = {}
        now = self._now()
        if rows:
            scores = self._model.score_many([r.values for r in rows], [r.attributes for r in rows])
            for row, score in zip(rows, scores, strict=True):
                decided[row.position] = self._decide_scored(row, score, memos, now)
        for position, receipt in receipts:
            decided[position] = self._decide_receipt(
                receipt, states[receipt.customer_id], memos, now
            )
        for customer, memo in memos.items():
            states[customer].memo = memo.encode()
        return decided

    def _decide_scored(
        self, row: ScoringRow, score: Score, memos: dict[str, Memo], now: datetime
    ) -> Decided:
        event, memo = row.event, memos[row.event.customer_id]
        key = event_key(row.event.event_id)
        view = policy_row(row, score)
        request = event if isinstance(event, ReturnRequested) else None
        resolution = self._policy.resolution(view) if request else None
        risk = RiskScore(
            score_id=score_id(event.event_id, self._model.version),
            source_event_id=event.event_id,
            source_event_type=event.event_type,
            source_occurred_at=event.occurred_at,
            customer_id=event.customer_id,
            order_id=event.order_id,
            return_id=request.return_id if request else None,
            segment=score.segment,
            probability=score.probability,
            band=score.band,
            model_version=self._model.version,
            reasons=list(score.reasons),
            feature_hash=vector_hash(row.values),
            scored_at=now,
            instant_credit_eligible=(
                None
                if resolution is None
                else resolution is RecommendedResolution.INSTANT_STORE_CREDIT
            ),
            recommended_resolution=resolution,
        )
        score_record = self._record(self._topics.scores, event.customer_id, risk)
        out = Decided([score_record], event.occurred_at, score.segment, score.band)
        if resolution is INSTANT_CREDIT:
            out.instant_credit = order_value(view) or 0.0
        alerts = self._policy.config.alerts
        if request is None and score.band is RiskBand.HIGH:
            self._alert(
                out,
                AlertType.HIGH_RISK_ORDER,
                memo,
                event,
                score.segment,
                now,
                f"order {event.order_id} scored {score.probability:.2f} ({score.band.value})",
                {"probability": round(score.probability, 4)},
            )
        is_serial = score.segment == alerts.serial_returner.segment
        serial_alert = AlertType.SERIAL_RETURNER.value
        if is_serial and (not memo.serial or memo.alerted_for(serial_alert, key)):
            self._alert(
                out,
                AlertType.SERIAL_RETURNER,
                memo,
                event,
                score.segment,
                now,
                "customer has entered the serial-returner segment",
                {"returned_items_rate_365d": _number(row.values, "returned_items_rate_365d")},
            )
        memo.serial, memo.segment = is_serial, score.segment
        offers = self._policy.offers(
            event.event_type, view, memo, event.occurred_at, key, event.customer_id
        )
        for offer in offers:
            out.offers.append(offer)
            out.records.append(
                self._record(
                    self._topics.offers,
                    event.customer_id,
                    Offer(
                        offer_id=stable_id(offer.rule, event.event_id),
                        offer_type=offer.offer,
                        customer_id=event.customer_id,
                        segment=score.segment,
                        band=score.band,
                        rule=offer.rule,
                        value=offer.value,
                        source_event_id=event.event_id,
                        created_at=offer.created_at,
                        expires_at=offer.expires_at,
                        emitted_at=now,
                        order_id=event.order_id,
                        held_out=offer.held_out,
                        expected_value=offer.expected_value,
                        runner_up=offer.runner_up,
                        runner_up_expected_value=offer.runner_up_expected_value,
                    ),
                )
            )
        return out

    def _segment_as_first_decided(
        self, event: ReturnReceived, stored: Stored, memos: dict[str, Memo]
    ) -> str:
        """An unscored event's alerts name the customer's segment at its first decision (that of
        the last scored event decided before it), remembered like a scored row so that a
        redelivery names the same one (features/redelivery.py)."""
        remembered = RememberedRows(stored.scored, self._memory)
        first = remembered.recall(event.event_id, {})
        if first is not None:
            return str(first[1]["segment"])
        segment = memos[event.customer_id].segment
        remembered.remember(event.event_id, {}, {"segment": segment})
        stored.scored = remembered.encode()
        return segment

    def _decide_receipt(
        self, event: ReturnReceived, stored: Stored, memos: dict[str, Memo], now: datetime
    ) -> Decided:
        out = Decided()
        worn = sum(line.quantity for line in event.lines if line.condition is ItemCondition.WORN)
        rule = self._policy.config.alerts.suspected_wardrobing
        if worn >= rule.min_worn_items:
            self._alert(
                out,
                AlertType.SUSPECTED_WARDROBING,
                memos[event.customer_id],
                event,
                self._segment_as_first_decided(event, stored, memos),
                now,
                f"{worn} item(s) of return {event.return_id} came back worn",
                {"worn_items": worn},
            )
        return out

    def _alert(
        self,
        out: Decided,
        alert_type: AlertType,
        memo: Memo,
        event: InputEvent,
        segment: str,
        now: datetime,
        message: str,
        details: dict[str, str | int | float | bool],
    ) -> None:
        if not self._policy.alert(
            alert_type, memo, epoch(event.occurred_at), event_key(event.event_id)
        ):
            return
        out.alerts.append(alert_type)
        alert = Alert(
            alert_id=stable_id(alert_type.value, event.event_id),
            alert_type=alert_type,
            customer_id=event.customer_id,
            segment=segment,
            severity="critical" if alert_type is AlertType.SUSPECTED_WARDROBING else "warning",
            message=message,
            details=details,
            source_event_id=event.event_id,
            occurred_at=event.occurred_at,
            emitted_at=now,
        )
        out.records.append(self._record(self._topics.alerts, event.customer_id, alert))

    @staticmethod
    def _record(topic: str, customer_id: str, event: RiskScore | Alert | Offer) -> OutputRecord:
        return OutputRecord(topic, customer_id.encode(), encode_event(event))


def _number(values: FeatureValues, name: str) -> float:
    value = values.get(name)
    return round(value, 4) if isinstance(value, float) and not math.isnan(value) else -1.0
