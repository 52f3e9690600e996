"""One micro-batch of the worker, synchronous and free of Kafka: records in, records out.

validate (schemas) -> dead-letter the invalid -> hold back events read ahead of their
partition's event-time watermark (streams/alignment.py, streams/held.py) and release those it
has passed -> update features (one Redis read, one write) -> score every order and return
request (one vectorised call) -> risk scores, alerts and offers (streams/decisions.py),
decided before the write so they commit with the features -> write the held events and count
the segments' orders and returns (one more round trip: three per batch). The faust agent
(streams/app.py) only moves bytes between Kafka and `ScoringPipeline.handle`, which keeps the
logic testable against a real Redis without a broker.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import NamedTuple

from features.batch import BatchResult, ScoringRow, process_batch
from features.config import FeatureConfig
from features.redelivery import DEFAULT_MEMORY, RowMemory
from features.state import Outcome
from features.store import FeatureStore
from features.units import DAY, epoch
from models.inference import ScoringModel
from policy.rules import Policy
from schemas import Alert, EventValidationError, InputEvent, ReturnRequested, decode_event
from schemas.codec import DEAD_LETTER_KEY_BYTES, dead_letter, encode_event
from schemas.common import ReturnType
from schemas.outputs import AlertType
from streams import metrics
from streams.alignment import Alignment, ConsumerOffsets
from streams.catalog_gate import CatalogGate, end_of_day
from streams.decisions import Decided, Decider, OutputRecord, count_emitted, stable_id
from streams.held import HeldEvents
from streams.segment_rates import SegmentRates, WindowRate
from streams.settings import TopicSettings

logger = logging.getLogger(__name__)

STEP = "scorer"
"""Stable name of this step in logs, metrics and dead-letter records."""

_OUTCOME_LABEL = {
    Outcome.APPLIED: "ok",
    Outcome.DUPLICATE: "duplicate",
    Outcome.TOO_LATE: "too_late",
}


class InputRecord(NamedTuple):  # a tuple: cheap to send to the pipeline's process
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class ConsumerProgress:
    """What the consumer knows beside the records: its rebalance generation and its offsets."""

    generation: int
    offsets: ConsumerOffsets
    partitions: int | None = None
    """How many partitions each input topic has (None: not known yet)."""


@dataclass(slots=True)
class BatchOutput:
    records: list[OutputRecord] = field(default_factory=list)
    source_times: list[datetime] = field(default_factory=list)
    """Event time of every scored event, for the end-to-end latency once produced."""
    released: dict[int, list[str]] = field(default_factory=dict)
    """Ids of events held in earlier batches and applied in this one, by partition."""


class ScoringPipeline:
    def __init__(
        self,
        store: FeatureStore,
        model: Callable[[], ScoringModel],
        topics: TopicSettings,
        config: FeatureConfig,
        held: HeldEvents,
        alignment: Alignment,
        *,
        policy: Policy | None = None,
        segment_rates: SegmentRates | None = None,
        shadow: ScoringModel | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        release_limit: int = 5_000,
        row_memory: RowMemory = DEFAULT_MEMORY,
        gate: CatalogGate | None = None,
    ) -> None:
        """`release_limit` bounds the held events one batch applies (per partition), so a
        caught-up backlog is applied in large batches, never in one huge Redis call."""
        self._store = store
        self._model = model
        self._topics = topics
        self._config = config
        self._policy = policy or Policy.load()
        self._rates = segment_rates
        self._shadow = shadow
        self._now = now
        self._held_store = held
        self._alignment = alignment
        self._release_limit = release_limit
        self._row_memory = row_memory
        self._gate = gate
        self._held: dict[int, dict[str, InputEvent]] = {}  # by partition, then event id
        self._pending: dict[int, list[tuple[float, str]]] = defaultdict(list)
        """(event time, id) of the held events not applied yet, by partition, sorted."""
        self._released: dict[int, list[str]] = defaultdict(list)  # settled, still in Redis
        self._generation: int | None = None

    def waiting(self, generation: int) -> bool:
        """Whether an empty batch may have work: events held back, released ones still to drop
        from Redis, or a new assignment whose held events are not loaded yet."""
        held = any(self._pending.values()) or bool(self._released)
        return held or generation != self._generation

    def handle(self, records: Sequence[InputRecord], progress: ConsumerProgress) -> BatchOutput:
        """One batch; called with no records, it applies held events whose time has come."""
        with metrics.PIPELINE_BATCH_SECONDS.time():
            return self._handle(records, progress)

    def _handle(self, records: Sequence[InputRecord], progress: ConsumerProgress) -> BatchOutput:
        output = BatchOutput()
        if progress.generation != self._generation:
            self._realign(progress)
        read: list[tuple[InputRecord, InputEvent]] = []
        for record in records:
            try:
                event = decode_event(record.value)
            except EventValidationError as exc:
                output.records.append(self._dead_letter(record, exc))
                self._alignment.observe(record.topic, record.partition, record.offset, None)
                continue
            at = epoch(event.occurred_at)
            self._alignment.observe(record.topic, record.partition, record.offset, at)
            read.append((record, event))
        read_up_to = self._alignment.watermarks(progress.offsets)
        partitions = progress.partitions or max(read_up_to, default=-1) + 1
        limit = self._gate.release_limit(read_up_to, partitions) if self._gate else math.inf
        marks = self._release_marks(read_up_to, limit)
        events: list[InputEvent] = []
        for partition, pending in self._pending.items():
            count = bisect.bisect_right(pending, marks.get(partition, -math.inf), key=itemgetter(0))
            if count:
                held = self._held[partition]
                output.released[partition] = [event_id for _, event_id in pending[:count]]
                events.extend(held[event_id] for event_id in output.released[partition])
        added: dict[int, dict[str, tuple[InputEvent, bytes]]] = defaultdict(dict)
        for record, event in read:
            if epoch(event.occurred_at) <= marks[record.partition]:
                events.append(event)
            else:
                added[record.partition][event.event_id] = (event, record.value)
        self._hold(added)
        if not events:
            self._write_held_and_rates(added, [], read_up_to)
            return output
        model = self._model()  # one version per batch: a promotion applies at the next one
        decide = Decider(model, self._policy, self._topics, self._now, self._row_memory)
        result = process_batch(
            self._store, events, self._config, decide=decide, memory=self._row_memory
        )
        for partition, event_ids in output.released.items():  # applied: not to release again
            del self._pending[partition][: len(event_ids)]
        metrics.FEATURE_RETRIES.inc(result.retried_customers)
        counted = Counter(
            (event.event_type, _OUTCOME_LABEL[outcome])
            for event, outcome in zip(events, result.outcomes, strict=True)
        )
        for labels, count in counted.items():
            metrics.EVENTS.labels(*labels).inc(count)
        for row in result.rows:
            if row.duplicate:
                metrics.REDELIVERED.labels("remembered" if row.remembered else "recomputed").inc()
        count_emitted(result.decisions.values())
        for position in sorted(result.decisions):
            decided = result.decisions[position]
            output.records.extend(decided.records)
            if decided.scored_source_time is not None:
                output.source_times.append(decided.scored_source_time)
        windows = self._write_held_and_rates(added, self._segment_counts(result), read_up_to)
        output.records.extend(self._spike_alerts(model, windows))
        if self._shadow is not None and result.rows:
            self._score_shadow(self._shadow, result.rows)
        return output

    def _release_marks(self, read_up_to: Mapping[int, float], limit: float) -> dict[int, float]:
        """Per partition, the time up to which events are applied in this batch: what was read,
        up to the catalog gate's limit, and at most `release_limit` held events. A partition cut
        short by that bound also bounds the others (with a gate): to the end of the day it is
        cut in, so no event reads a day of the catalog it has not finished."""
        marks = {partition: min(mark, limit) for partition, mark in read_up_to.items()}
        for partition, pending in self._pending.items():
            count = bisect.bisect_right(pending, marks.get(partition, -math.inf), key=itemgetter(0))
            if count > self._release_limit:  # the rest next time; time order is kept
                last = pending[self._release_limit - 1][0]  # not split: events at one time
                count = bisect.bisect_left(pending, last, key=itemgetter(0)) or (
                    bisect.bisect_right(pending, last, key=itemgetter(0))
                )
                marks[partition] = pending[count - 1][0]
                if self._gate:
                    limit = min(limit, end_of_day(marks[partition]))
        return {partition: min(mark, limit) for partition, mark in marks.items()}

    def _realign(self, progress: ConsumerProgress) -> None:
        """A new assignment: partitions are read again from their committed offsets, and the
        held events of every assigned partition are loaded (another worker may have held
        them)."""
        assigned = sorted({partition for _, partition in progress.offsets.highwaters})
        self._alignment.reset()
        self._alignment.track(assigned)
        self._held = self._held_store.load(assigned)
        self._pending = defaultdict(list)
        for partition, held in self._held.items():
            self._pending[partition] = sorted((epoch(e.occurred_at), i) for i, e in held.items())
        self._released = defaultdict(list)
        self._generation = progress.generation
        metrics.HELD.set(self._held_count())

    def _write_held_and_rates(
        self,
        added: Mapping[int, Mapping[str, tuple[InputEvent, bytes]]],
        segment_counts: list[tuple[str, int, bool]],
        read_up_to: Mapping[int, float],
    ) -> list[WindowRate]:
        """One round trip, before this batch ends and its offsets may be committed: persist
        newly held events as their raw bytes (and drop those released by earlier batches),
        count the batch's orders and returns per segment, publish how far each partition is
        applied and read the others' (streams/catalog_gate.py). Their window rates."""
        pipe = self._held_store.pipeline()
        raw = {p: {i: value for i, (_, value) in held.items()} for p, held in added.items()}
        self._held_store.queue_update(pipe, raw, self._released)
        first_rate = len(pipe)
        rates = self._rates.queue_record(pipe, segment_counts) if self._rates else None
        first_gate = len(pipe)
        if self._gate:
            self._gate.queue(pipe, self._complete_before(read_up_to))
        if not len(pipe):
            return []
        with metrics.REDIS_SECONDS.time():
            replies = pipe.execute()
        self._released = defaultdict(list)
        if self._gate:
            self._gate.read(replies[-1])
        return rates(replies[first_rate:first_gate]) if rates else []

    def _complete_before(self, read_up_to: Mapping[int, float]) -> dict[int, float]:
        """Per assigned partition, the time before which all its events are applied: what was
        read, less what is held."""
        return {
            partition: min(
                mark, self._pending[partition][0][0] if self._pending[partition] else mark
            )
            for partition, mark in read_up_to.items()
        }

    def _hold(self, added: Mapping[int, Mapping[str, tuple[InputEvent, bytes]]]) -> None:
        """Remember newly held events (`_write_held_and_rates` persists them)."""
        for partition, events in added.items():
            held, pending = self._held.setdefault(partition, {}), self._pending[partition]
            for event_id, (event, _) in events.items():
                if event_id not in held:
                    held[event_id] = event
                    bisect.insort(pending, (epoch(event.occurred_at), event_id))
        metrics.HELD.set(self._held_count())

    def settle(self, released: Mapping[int, Sequence[str]]) -> None:
        """A batch's records are delivered: the held events it applied (`BatchOutput.released`)
        are done. Until then they are neither held nor released again, so later batches may be
        handled meanwhile.
        Their Redis entries go with the next batch's write (until then a restart applies them
        again, as the duplicates that a redelivery also gives)."""
        for partition, event_ids in released.items():
            held = self._held.get(partition, {})
            for event_id in event_ids:
                if held.pop(event_id, None) is not None:
                    self._released[partition].append(event_id)
        metrics.HELD.set(self._held_count())

    def _held_count(self) -> int:
        """Events held back and not yet applied."""
        return sum(map(len, self._pending.values()))

    def _segment_counts(self, result: BatchResult[Decided]) -> list[tuple[str, int, bool]]:
        """(segment, event time, is a return) of this batch's new orders and commercial
        return requests, for the segments' rolling return rates."""
        if self._rates is None:
            return []
        return [
            (segment, epoch(row.event.occurred_at), isinstance(row.event, ReturnRequested))
            for row in result.rows
            if not row.duplicate
            and (segment := result.decisions[row.position].segment) is not None
            and (
                not isinstance(row.event, ReturnRequested)
                or row.event.return_type is ReturnType.COMMERCIAL
            )
        ]

    def _spike_alerts(
        self, model: ScoringModel, windows: Sequence[WindowRate]
    ) -> list[OutputRecord]:
        """Alert on segments whose rolling rate exceeds the rate the model was trained on by
        the margin."""
        rule = self._policy.config.alerts.segment_return_spike
        alerts = []
        for window in windows:
            info = model.manifest["segments"].get(window.segment, {})
            baseline = info.get("train_positives", 0) / max(info.get("train_rows", 0), 1)
            if window.orders < rule.min_orders or window.rate <= baseline + rule.margin:
                continue
            if self._rates is None or not self._rates.claim_alert(window, rule.cooldown_hours):
                continue
            metrics.ALERTS.labels(AlertType.SEGMENT_RETURN_SPIKE.value).inc()
            moment = datetime.fromtimestamp(window.until_day * DAY, UTC)
            alert = Alert(
                alert_id=stable_id(
                    AlertType.SEGMENT_RETURN_SPIKE.value, window.segment, str(window.until_day)
                ),
                alert_type=AlertType.SEGMENT_RETURN_SPIKE,
                segment=window.segment,
                severity="warning",
                message=(
                    f"{window.segment}: {window.returns} return requests per {window.orders} "
                    f"orders over {rule.window_days} days ({window.rate:.1%}) against "
                    f"{baseline:.1%} in training"
                ),
                details={
                    "orders": window.orders,
                    "returns": window.returns,
                    "rate": round(window.rate, 4),
                    "baseline": round(baseline, 4),
                },
                occurred_at=moment,
                emitted_at=self._now(),
            )
            alerts.append(
                OutputRecord(self._topics.alerts, window.segment.encode(), encode_event(alert))
            )
        return alerts

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
        key = (record.key or b"")[:DEAD_LETTER_KEY_BYTES]  # the letter must fit one request
        return OutputRecord(self._topics.dlq, key, encode_event(letter))

    @staticmethod
    def _score_shadow(shadow: ScoringModel, rows: Sequence[ScoringRow]) -> None:
        assessment = shadow.assess_many([r.values for r in rows], [r.attributes for r in rows])
        for segment, band in zip(assessment.segments, assessment.bands, strict=True):
            metrics.SHADOW_SCORES.labels(segment, band.value).inc()  # no reasons needed
