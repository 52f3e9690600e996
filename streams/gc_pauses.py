"""Python's garbage collector, kept from stalling a worker that must answer in milliseconds.

A full collection scans every object the collector tracks. Once started, each of the worker's
two processes holds 150-210 thousand of them (modules, faust's services, the model, pydantic's
validators) that live until it exits. Scanning them stalled a process for 80-210 ms a few times
a minute, and those stalls were the p99 of end-to-end latency (`returnrisk bench`).
`freeze_start_up_objects` moves them to a generation no collection scans, so a full collection
scans only what the stream made since. Frozen objects are still freed by reference counting
when dropped; only a reference cycle among them would outlive its use, and start-up objects
live for the whole run anyway.

What the stream keeps is still scanned: the decoded-state cache
(`RETURNRISK_WORKER_STATE_CACHE_CUSTOMERS`) is lists and named tuples, which the collector
tracks. With Python's default thresholds the pipeline's process ran a full collection every
ten or so middle-generation ones: about one per 10 s at 2,000 events/s, each stalling it for
40-100 ms at 3,000 cached customers (longer the more are cached). Full collections are
therefore ten times rarer (`FULL_COLLECTION_AFTER`); in four interleaved `returnrisk bench`
pairs p99 latency fell from 391-745 ms to 195-387 ms. The cyclic garbage full collections
exist for is small here: a harness counted 4 objects per 100-event batch (ctypes buffers of
LightGBM calls), and it dies young, where the young collections, unchanged, still find it.

Pauses are measured (`watch_pauses`), so ops can see when collections do stall a process.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

from prometheus_client import Histogram

logger = logging.getLogger(__name__)


FULL_COLLECTION_AFTER = 100
"""Collections of the middle generation before a full one may run (Python's default: 10)."""


def tame_collections(process: str, pauses: Histogram) -> None:
    """Once this process has started: observe its collections in `pauses`, freeze its start-up
    objects, and make full collections rarer."""
    watch_pauses(pauses)
    freeze_start_up_objects(process)
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)


def freeze_start_up_objects(process: str) -> int:
    """Collect start-up's garbage, then freeze what is left; returns the objects frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.info("%s: %d start-up objects frozen out of garbage collection", process, frozen)
    return frozen


class _PauseTimer:
    """A `gc.callbacks` entry observing each collection's duration, by generation.

    The labelled series are made here, not in the callback: `labels()` takes the metric's lock,
    and a collection can start in a thread already holding it (the /metrics server copying the
    series), which would then wait on itself forever. `observe` on a series allocates nothing
    the collector tracks while it holds its own locks, so it cannot start a collection there.
    """

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram
        self.by_generation = [histogram.labels(str(g)) for g in range(3)]
        self.started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            elapsed = time.perf_counter() - self.started
            self.by_generation[info["generation"]].observe(elapsed)


def watch_pauses(histogram: Histogram) -> None:
    """Observe every collection of this process in `histogram` (once, however often called)."""
    if not any(isinstance(c, _PauseTimer) and c.histogram is histogram for c in gc.callbacks):
        gc.callbacks.append(_PauseTimer(histogram))
