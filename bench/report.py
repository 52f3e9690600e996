"""The bench's figures: one record, printed as a table and written as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table


@dataclass(frozen=True, slots=True)
class Throughput:
    events: int
    seconds: float
    """(a), (b): from the first to the last forwarded record's CreateTime. (c): from the first
    scrape of /metrics that saw events consumed to the end of the last batch (`events` then
    counts what was consumed in between): its score topic cannot time it, as faust drains
    the small orders and returns topics long before the large campaign-touches one."""

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class CpuPerEvent:
    """CPU microseconds per event read in (c), of the worker's two processes (summed over
    the workers): faust's (fetching, the stream, producing) and the pipeline's (validation,
    features, Redis, scoring). What a core per process can carry, and so how many workers a
    rate needs, follows from these."""

    faust: float
    pipeline: float


@dataclass(frozen=True, slots=True)
class LatencyPhase:
    """(c)'s worker, warm, offered the tail log at a fixed rate; each score timed from its
    input's send. See `bench.runner.latency_design` for how rate and length are chosen."""

    load_share: float
    offered_rate: float
    """Events/s the producer is paced to: `load_share` of (c)'s measured events/s."""
    min_seconds: float
    min_scores: int
    events_sent: int
    scored_type_events_sent: int
    """Orders and return requests among `events_sent`: what the worker scores."""
    sent_seconds: float
    """From the producer's start to the broker's ack of the last event."""
    scores: int
    """Scores matched to an input sent in the phase: the latency sample."""
    scores_span_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    backlog_max: int
    """Most events sent but not yet read by the worker, over scrapes every few seconds."""
    backlog_at_end: int
    """Events sent but not yet read by the worker when the last one was acked."""
    drain_s: float
    """From the last event's ack to the end of the worker's last batch."""
    tail_customers: int
    tail_days: int
    tail_start: str

    @property
    def sent_rate(self) -> float:
        """Events/s actually sent (achieved), against `offered_rate`."""
        return self.events_sent / self.sent_seconds if self.sent_seconds > 0 else 0.0

    @property
    def score_rate(self) -> float:
        """Scores/s over the span of the measured scores."""
        return self.scores / self.scores_span_s if self.scores_span_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sent_rate": self.sent_rate, "score_rate": self.score_rate}


@dataclass(slots=True)
class BenchReport:
    events: int
    customers: int
    workers: int = 1
    bare_aiokafka: Throughput | None = None
    faust_forward: Throughput | None = None
    pipeline: Throughput | None = None
    scores: int = 0
    cpu_us_per_event: CpuPerEvent | None = None
    latency: LatencyPhase | None = None
    redis_round_trips_per_event: float | None = None
    """Over (c)'s events."""
    redis_bytes_per_customer: float | None = None
    """After (c), before the latency phase adds its own customers."""
    redis_customer_keys: int = 0
    notes: list[str] = field(default_factory=list)

    def ratio(self, over: Throughput | None) -> float | None:
        if self.pipeline is None or over is None or over.events_per_s == 0:
            return None
        return self.pipeline.events_per_s / over.events_per_s

    def as_dict(self) -> dict[str, Any]:
        figures = asdict(self)
        for name in ("bare_aiokafka", "faust_forward", "pipeline"):
            run: Throughput | None = getattr(self, name)
            if run is not None:
                figures[name]["events_per_s"] = run.events_per_s
        figures["latency"] = None if self.latency is None else self.latency.as_dict()
        figures["ratio_c_over_a"] = self.ratio(self.bare_aiokafka)
        figures["ratio_c_over_b"] = self.ratio(self.faust_forward)
        return figures

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n")

    def table(self) -> Table:
        workers = "" if self.workers == 1 else f", {self.workers} workers in (c)"
        table = Table(
            title=f"returnrisk bench: {self.events:,} events, {self.customers:,} customers{workers}"
        )
        table.add_column("figure")
        table.add_column("value", justify="right")
        for label, run in (
            ("(a) bare aiokafka forward, events/s", self.bare_aiokafka),
            ("(b) faust take() forward, events/s", self.faust_forward),
            ("(c) full pipeline (worker), events/s", self.pipeline),
        ):
            table.add_row(label, _rate(run))
        table.add_row("c/a", _ratio(self.ratio(self.bare_aiokafka)))
        table.add_row("c/b", _ratio(self.ratio(self.faust_forward)))
        table.add_row("scores emitted in (c)", f"{self.scores:,}")
        cpu = self.cpu_us_per_event
        table.add_row("(c) CPU / event, faust process (us)", _number(cpu.faust if cpu else None, 1))
        table.add_row(
            "(c) CPU / event, pipeline process (us)", _number(cpu.pipeline if cpu else None, 1)
        )
        _latency_rows(table, self.latency)
        table.add_row("Redis round trips / event", _number(self.redis_round_trips_per_event, 4))
        table.add_row("Redis bytes / customer (after c)", _number(self.redis_bytes_per_customer, 0))
        table.add_row("Redis customer keys", f"{self.redis_customer_keys:,}")
        return table


def _latency_rows(table: Table, phase: LatencyPhase | None) -> None:
    if phase is None:
        table.add_row("latency phase", "-")
        return
    share = f"{phase.load_share:.0%}"
    table.add_row(f"latency: offered rate ({share} of c), events/s", f"{phase.offered_rate:,.0f}")
    table.add_row("latency: achieved send rate, events/s", f"{phase.sent_rate:,.0f}")
    table.add_row("latency: events sent", f"{phase.events_sent:,}")
    table.add_row("latency: duration, s", f"{phase.sent_seconds:,.1f}")
    table.add_row("latency: scores measured", f"{phase.scores:,}")
    table.add_row("latency: achieved scores/s", f"{phase.score_rate:,.0f}")
    for label, value in (
        ("p50", phase.p50_ms),
        ("p95", phase.p95_ms),
        ("p99", phase.p99_ms),
        ("max", phase.max_ms),
    ):
        table.add_row(f"latency {label} (ms)", f"{value:,.0f}")
    table.add_row(
        "latency: worker backlog, max / at end", f"{phase.backlog_max:,} / {phase.backlog_at_end:,}"
    )
    table.add_row("latency: drain after the last send, s", f"{phase.drain_s:.1f}")


def _rate(run: Throughput | None) -> str:
    return "-" if run is None else f"{run.events_per_s:,.0f} ({run.seconds:.2f} s)"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"
