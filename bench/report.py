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


@dataclass(slots=True)
class BenchReport:
    events: int
    customers: int
    bare_aiokafka: Throughput | None = None
    faust_forward: Throughput | None = None
    pipeline: Throughput | None = None
    scores: int = 0
    offered_rate: float = 0.0
    offered_seconds: float = 0.0
    latency: dict[str, float] = field(default_factory=dict)
    """count, p50_ms, p95_ms, p99_ms, max_ms at `offered_rate`."""
    redis_round_trips_per_event: float | None = None
    redis_bytes_per_customer: float | None = None
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
        figures["ratio_c_over_a"] = self.ratio(self.bare_aiokafka)
        figures["ratio_c_over_b"] = self.ratio(self.faust_forward)
        return figures

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n")

    def table(self) -> Table:
        table = Table(
            title=f"returnrisk bench: {self.events:,} events, {self.customers:,} customers"
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
        table.add_row("latency: offered load, events/s", f"{self.offered_rate:,.0f}")
        table.add_row("latency: offered for (s)", f"{self.offered_seconds:.1f}")
        for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
            value = self.latency.get(key)
            table.add_row(f"latency {key[:-3]} (ms)", "-" if value is None else f"{value:,.0f}")
        table.add_row("latency: scores measured", f"{self.latency.get('count', 0):,.0f}")
        table.add_row("Redis round trips / event", _number(self.redis_round_trips_per_event, 4))
        table.add_row("Redis bytes / customer", _number(self.redis_bytes_per_customer, 0))
        table.add_row("Redis customer keys", f"{self.redis_customer_keys:,}")
        return table


def _rate(run: Throughput | None) -> str:
    return "-" if run is None else f"{run.events_per_s:,.0f} ({run.seconds:.2f} s)"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"
