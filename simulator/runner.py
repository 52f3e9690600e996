"""A whole run: simulate every customer, merge their events by time and write the log.

The merge key is (second, customer index) and Python's sort is stable, so events at the same
second keep each customer's own order and the file is the same bytes for the same inputs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from pathlib import Path

from schemas.event_log import write_event_log
from simulator.config import SimulatorConfig
from simulator.journey import simulate_customer
from simulator.offer_effects import OfferPlan
from simulator.timeline import EVENT_TYPES
from simulator.world import build_world

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Called as (stage, done, total) with stage 'simulate' or 'write'."""

_PROGRESS_EVERY = 250


@dataclass(slots=True)
class Summary:
    customers: int
    events_by_type: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_TYPES, 0))
    orders: int = 0
    returned_orders: int = 0
    items: int = 0
    returned_items: int = 0
    seconds: float = 0.0
    offers: OfferPlan | None = None
    """With `--offers`: the offers read, and which of them this run's orders matched."""

    @property
    def events(self) -> int:
        return sum(self.events_by_type.values())

    @property
    def order_return_rate(self) -> float:
        """Share of orders with a commercial or service return requested in the window
        (end-of-life take-backs are not counted)."""
        return self.returned_orders / self.orders if self.orders else 0.0

    @property
    def item_return_rate(self) -> float:
        return self.returned_items / self.items if self.items else 0.0


def simulate_events(
    config: SimulatorConfig,
    *,
    customers: int,
    days: int,
    seed: int,
    start: date,
    progress: Progress | None = None,
    offers: OfferPlan | None = None,
) -> tuple[list[str], Summary]:
    """Every event of `customers` over `days` from `start`, as JSON lines in time order; with
    `offers`, their planted effects (`simulator.offer_effects`)."""
    began = time.perf_counter()
    world = build_world(config, seed, start, days)
    summary = Summary(customers=customers, offers=offers)
    keyed: list[tuple[int, str]] = []
    for index in range(customers):
        timeline = simulate_customer(world, seed, index, offers)
        keyed.extend([(t * customers + index, line) for t, line in timeline.events])
        for event_type, count in timeline.counts.items():
            summary.events_by_type[event_type] += count
        summary.orders += timeline.orders
        summary.returned_orders += timeline.returned_orders
        summary.items += timeline.items
        summary.returned_items += timeline.returned_items
        if progress and ((index + 1) % _PROGRESS_EVERY == 0 or index + 1 == customers):
            progress("simulate", index + 1, customers)
    keyed.sort(key=itemgetter(0))
    summary.seconds = time.perf_counter() - began
    return [line for _, line in keyed], summary


def run_simulation(
    config: SimulatorConfig,
    *,
    customers: int,
    days: int,
    seed: int,
    start: date,
    out: Path,
    progress: Progress | None = None,
    offers: OfferPlan | None = None,
) -> Summary:
    """Simulate, then write the time-ordered log to `out` (what `returnrisk simulate` does)."""
    began = time.perf_counter()
    lines, summary = simulate_events(
        config,
        customers=customers,
        days=days,
        seed=seed,
        start=start,
        progress=progress,
        offers=offers,
    )
    write_event_log(
        out, lines, (lambda done, total: progress("write", done, total)) if progress else None
    )
    summary.seconds = time.perf_counter() - began
    logger.info(
        "simulated %d customers over %d days: %d events in %.1f s",
        customers,
        days,
        summary.events,
        summary.seconds,
    )
    return summary
