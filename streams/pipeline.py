"""One micro-batch of the worker, synchronous and free of Kafka: records in, records out.

validate (schemas) -> dead-letter the invalid -> update features (one Redis read, one write)
-> score every order and return request (one vectorised call) -> risk-score records.
The faust agent (streams/app.py) only moves bytes between Kafka and `ScoringPipeline.handle`,
which keeps the logic testable against a real Redis without a broker.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from features.batch import ScoringRow, process_batch
from features.config import FeatureConfig
from features.state import Outcome
from features.store import FeatureStore
from features.vector import FeatureValues
from models.inference import Score, ScoringModel
from returnrisk.settings import TopicSettings
from schemas import EventValidationError, InputEvent, ReturnRequested, RiskScore, decode_event
from schemas.codec import dead_letter, encode_event
from schemas.common import ReasonCode
from schemas.outputs import RecommendedResolution, RiskBand
from streams import metrics

logger = logging.getLogger(__name__)

STEP = "scorer"
"""Stable name of this step in logs, metrics and dead-letter records."""

_SCORE_NAMESPACE = uuid.UUID("5b0f6c1e-2a53-4c1b-9d1e-72657475726e")
_FIT_REASONS = frozenset({ReasonCode.SIZE_TOO_SMALL, ReasonCode.SIZE_TOO_LARGE})
_OUTCOME_LABEL = {
    Outcome.APPLIED: "ok",
    Outcome.DUPLICATE: "duplicate",
    Outcome.TOO_LATE: "too_late",
}


@dataclass(frozen=True, slots=True)
class InputRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class OutputRecord:
    topic: str
    key: bytes
    value: bytes


@dataclass(slots=True)
class BatchOutput:
    records: list[OutputRecord] = field(default_factory=list)
    source_times: list[datetime] = field(default_factory=list)
    """Event time of every scored event, for the end-to-end latency once produced."""
    model_version: str | None = None


def score_id(source_event_id: str, model_version: str) -> str:
    """The same event scored by the same version always gets the same id (for deduplication)."""
    return str(uuid.uuid5(_SCORE_NAMESPACE, f"{source_event_id}/{model_version}"))


def vector_hash(values: FeatureValues) -> str:
    """Hash of a feature vector, so a consumer can tell which inputs produced a score."""
    cleaned = [None if isinstance(v, float) and math.isnan(v) else v for v in values.values()]
    return hashlib.sha256(orjson.dumps(cleaned)).hexdigest()[:16]


def recommend_resolution(request: ReturnRequested, score: Score) -> RecommendedResolution:
    """What a returns portal should offer: credit at once to low risk, an exchange first when
    the reason is fit and the risk is medium, otherwise a refund after the item is inspected."""
    if score.band is RiskBand.LOW and score.segment != "serial_returner":
        return RecommendedResolution.INSTANT_STORE_CREDIT
    fit = any(line.reason_code in _FIT_REASONS for line in request.lines)
    if score.band is RiskBand.MEDIUM and fit:
        return RecommendedResolution.EXCHANGE_FIRST
    return RecommendedResolution.REFUND_AFTER_INSPECTION


class ScoringPipeline:
    def __init__(
        self,
        store: FeatureStore,
        model: Callable[[], ScoringModel],
        topics: TopicSettings,
        config: FeatureConfig,
        *,
        shadow: ScoringModel | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._model = model
        self._topics = topics
        self._config = config
        self._shadow = shadow
        self._now = now

    def handle(self, records: Sequence[InputRecord]) -> BatchOutput:
        output = BatchOutput()
        events: list[InputEvent] = []
        for record in records:
            try:
                events.append(decode_event(record.value))
            except EventValidationError as exc:
                output.records.append(self._dead_letter(record, exc))
        metrics.BATCH_SIZE.observe(len(records))
        if not events:
            return output
        result = process_batch(self._store, events, self._config)
        metrics.FEATURE_RETRIES.inc(result.retried_customers)
        for event, outcome in zip(events, result.outcomes, strict=True):
            metrics.EVENTS.labels(event.event_type, _OUTCOME_LABEL[outcome]).inc()
        if result.rows:
            model = self._model()
            output.model_version = model.version
            output.records.extend(self._scores(model, result.rows, output))
            if self._shadow is not None:
                self._score_shadow(result.rows)
        return output

    def _dead_letter(self, record: InputRecord, error: EventValidationError) -> OutputRecord:
        metrics.EVENTS.labels("unknown", "invalid").inc()
        metrics.DEAD_LETTERS.labels(record.topic).inc()
        letter = dead_letter(
            record.value,
            error,
            step=STEP,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            failed_at=self._now(),
        )
        logger.info(
            "dead-lettered %s[%d]@%d: %s",
            record.topic,
            record.partition,
            record.offset,
            letter.error[:200],
        )
        return OutputRecord(self._topics.dlq, record.key or b"", encode_event(letter))

    def _scores(
        self, model: ScoringModel, rows: Sequence[ScoringRow], output: BatchOutput
    ) -> list[OutputRecord]:
        scores = model.score_many([r.values for r in rows], [r.attributes for r in rows])
        scored_at = self._now()
        records = []
        for row, score in zip(rows, scores, strict=True):
            event = row.event
            request = event if isinstance(event, ReturnRequested) else None
            resolution = recommend_resolution(request, score) if request else None
            risk = RiskScore(
                score_id=score_id(event.event_id, model.version),
                source_event_id=event.event_id,
                source_event_type=event.event_type,
                source_occurred_at=event.occurred_at,
                customer_id=event.customer_id,
                order_id=event.order_id,
                return_id=request.return_id if request else None,
                segment=score.segment,
                probability=score.probability,
                band=score.band,
                model_version=model.version,
                reasons=list(score.reasons),
                feature_hash=vector_hash(row.values),
                scored_at=scored_at,
                instant_credit_eligible=(
                    None
                    if resolution is None
                    else resolution is RecommendedResolution.INSTANT_STORE_CREDIT
                ),
                recommended_resolution=resolution,
            )
            metrics.SCORES.labels(score.segment, score.band.value).inc()
            output.source_times.append(event.occurred_at)
            records.append(
                OutputRecord(self._topics.scores, event.customer_id.encode(), encode_event(risk))
            )
        return records

    def _score_shadow(self, rows: Sequence[ScoringRow]) -> None:
        assert self._shadow is not None  # noqa: S101 - checked by the caller
        for score in self._shadow.score_many(
            [r.values for r in rows], [r.attributes for r in rows]
        ):
            metrics.SHADOW_SCORES.labels(score.segment, score.band.value).inc()
