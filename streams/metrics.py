"""Prometheus series of the worker. Labels are small fixed sets: never customer or order ids."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram, Info, ProcessCollector

EVENTS = Counter(
    "returnrisk_events_total",
    "Input events consumed, by type and outcome (ok, duplicate, too_late, invalid).",
    ["event_type", "outcome"],
)
DEAD_LETTERS = Counter(
    "returnrisk_dead_letters_total", "Records sent to the dead-letter topic.", ["source_topic"]
)
BATCH_SIZE = Histogram(
    "returnrisk_batch_size",
    "Events per micro-batch.",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000),
)
_BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
PROCESSING_SECONDS = Histogram(
    "returnrisk_batch_processing_seconds",
    "Per micro-batch, from handing it to the pipeline to having its outputs: the pipeline's "
    "work, the wait behind the batch sent ahead of it, and the pipe between the processes.",
    buckets=_BATCH_BUCKETS,
)
PIPELINE_BATCH_SECONDS = Histogram(
    "returnrisk_pipeline_batch_seconds",
    "The pipeline's own work on one micro-batch (validate, features, score, build outputs), "
    "timed in its process.",
    buckets=_BATCH_BUCKETS,
)
END_TO_END_SECONDS = Histogram(
    "returnrisk_end_to_end_latency_seconds",
    "From the source event's time to its score being produced.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
PROCESSING_LATENCY_SECONDS = Histogram(
    "returnrisk_processing_latency_seconds",
    "From the worker taking a batch's records from the consumer to the broker acknowledging "
    "its outputs: processing time only, so a replay or backfill of old events does not raise it "
    "(returnrisk_end_to_end_latency_seconds measures from event time).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
REDIS_SECONDS = Histogram(
    "returnrisk_redis_round_trip_seconds",
    "One Redis round trip of the worker: a batch's feature read or write, held events, "
    "segment rates.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
REDELIVERED = Counter(
    "returnrisk_redelivered_total",
    "Orders and return requests delivered again (a redelivered batch), by answer: "
    "'remembered' (scored with the first delivery's row, features/redelivery.py) or "
    "'recomputed' (its row was no longer kept: scored from the state as it is now).",
    ["answer"],
)
SCORES = Counter(
    "returnrisk_scores_total", "Risk scores emitted, by segment and band.", ["segment", "band"]
)
SHADOW_SCORES = Counter(
    "returnrisk_shadow_scores_total",
    "Scores of the shadow model (measured, not emitted), by segment and band.",
    ["segment", "band"],
)
ALERTS = Counter("returnrisk_alerts_total", "Alerts emitted, by type.", ["alert_type"])
OFFERS = Counter(
    "returnrisk_offers_total",
    "Retention offers decided, by rule, type and outcome: 'made', or 'held_out' (the customer is "
    "in the rule's random holdout: recorded, not made).",
    ["rule", "offer_type", "outcome"],
)
INSTANT_CREDITS = Counter(
    "returnrisk_instant_credits_total",
    "Return requests resolved with instant store credit, by segment.",
    ["segment"],
)
INSTANT_CREDIT_VALUE = Counter(
    "returnrisk_instant_credit_value_total",
    "Value credited at once on those requests (the requested share of the order's value, in the "
    "shop's currency), by segment.",
    ["segment"],
)
MODEL = Info("returnrisk_model", "The model version scoring now.")
MODEL_RELOADS = Counter(
    "returnrisk_model_reloads_total", "Registry promotions picked up, by result.", ["result"]
)
BATCH_RETRIES = Counter(
    "returnrisk_batch_retries_total",
    "Batches retried after a Redis or broker error (the batch is never skipped).",
)
FEATURE_RETRIES = Counter(
    "returnrisk_feature_write_conflicts_total",
    "Customers whose feature write lost a compare-and-set race and was applied again.",
)
LAST_BATCH = Gauge(
    "returnrisk_last_batch_timestamp_seconds", "When the worker last finished a batch."
)
READY = Gauge(
    "returnrisk_ready",
    "1 while the worker's pipeline runs and its consumer has joined the group (what /ready "
    "answers), else 0.",
)
DEPENDENCY_UP = Gauge(
    "returnrisk_dependency_up",
    "0 while the worker cannot reach a dependency (redis, kafka), else 1.",
    ["dependency"],
)
HELD = Gauge(
    "returnrisk_held_events",
    "Input events read ahead of their partition's other topics, held back until those are read "
    "past their time (event-time alignment).",
)
_GC_PAUSE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5)
GC_PAUSE_SECONDS = Histogram(
    "returnrisk_gc_pause_seconds",
    "Garbage collections of the worker's process (faust), by generation: the process stalls.",
    ["generation"],
    buckets=_GC_PAUSE_BUCKETS,
)
PIPELINE_GC_PAUSE_SECONDS = Histogram(
    "returnrisk_pipeline_gc_pause_seconds",
    "Garbage collections of the pipeline's process, by generation: the process stalls.",
    ["generation"],
    buckets=_GC_PAUSE_BUCKETS,
)

PIPELINE_METRICS = (
    EVENTS,
    PIPELINE_BATCH_SECONDS,
    DEAD_LETTERS,
    REDIS_SECONDS,
    SCORES,
    REDELIVERED,
    SHADOW_SCORES,
    ALERTS,
    OFFERS,
    INSTANT_CREDITS,
    INSTANT_CREDIT_VALUE,
    MODEL,
    MODEL_RELOADS,
    FEATURE_RETRIES,
    HELD,
    PIPELINE_GC_PAUSE_SECONDS,
)
"""Recorded where `ScoringPipeline` runs (streams/offload.py): in the pipeline's process, whose
values the worker serves. The others are recorded by the worker's agent."""


class _PipelinePid:
    """Whose /proc the pipeline's process series read: this process's own (the pipeline runs
    inline, or in a test) until `PipelineProcess` points it at its child."""

    def __init__(self) -> None:
        self.source: Callable[[], int | str] = lambda: "self"

    def __call__(self) -> int | str:
        return self.source()


PIPELINE_PID = _PipelinePid()
PIPELINE_PROCESS = ProcessCollector(namespace="returnrisk_pipeline", pid=PIPELINE_PID)
"""CPU, memory and open files of the process running the pipeline (the worker's own
`process_*` series cover only faust's): the pipeline's process is what bounds a worker's
throughput, so ops should see how near one core it runs."""
