"""Start-up objects frozen out of garbage collection, and collection pauses measured."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Histogram

from streams.gc_pauses import freeze_start_up_objects, tame_collections, watch_pauses


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.fixture
def default_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's own
    yield
    gc.set_threshold(*before)


@pytest.fixture
def histogram() -> Iterator[Histogram]:
    pauses = Histogram("pauses_seconds", "", ["generation"], registry=CollectorRegistry())
    before = list(gc.callbacks)
    yield pauses
    gc.callbacks[:] = before


def _tracked(value: object) -> bool:
    return any(tracked is value for tracked in gc.get_objects())


def _count(histogram: Histogram, generation: str) -> float:
    return sum(
        sample.value
        for family in histogram.collect()
        for sample in family.samples
        if sample.name.endswith("_count") and sample.labels["generation"] == generation
    )


@pytest.mark.usefixtures("unfrozen")
def test_objects_alive_at_start_up_are_frozen_and_later_ones_are_not() -> None:
    before = [object()]
    frozen = freeze_start_up_objects("test")
    after = [object()]
    assert frozen == gc.get_freeze_count() > 0
    assert not _tracked(before)  # a collection no longer scans it
    assert _tracked(after)


def test_every_collection_is_observed_once_by_generation(histogram: Histogram) -> None:
    watch_pauses(histogram)
    watch_pauses(histogram)  # a restarted agent must not observe twice
    gc.collect(0)
    gc.collect(2)
    assert _count(histogram, "0") == 1
    assert _count(histogram, "2") == 1
    assert _count(histogram, "1") == 0


def test_a_collection_in_a_thread_holding_the_metric_lock_does_not_deadlock(
    histogram: Histogram,
) -> None:
    """The /metrics server copies the series under the metric's lock; a collection may start
    there (it allocates), and the callback must not need that lock."""
    watch_pauses(histogram)

    def collect_under_the_lock() -> None:
        with histogram._lock:  # noqa: SLF001 - the lock `collect()` holds
            gc.collect(0)

    thread = threading.Thread(target=collect_under_the_lock, daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive(), "the pause callback waited on the metric's lock"


def _full_collections_while_keeping(objects: int) -> int:
    """Full collections run while `objects` new containers are made and kept (as a cache
    fills)."""
    before = gc.get_stats()[2]["collections"]
    kept = [[] for _ in range(objects)]
    after = gc.get_stats()[2]["collections"]
    del kept
    return after - before


@pytest.mark.usefixtures("default_thresholds", "unfrozen")
def test_a_full_collection_waits_for_100_middle_ones_once_tamed(histogram: Histogram) -> None:
    gc.freeze()  # what the test process holds, so its size plays no part
    gc.collect()
    untamed = _full_collections_while_keeping(400_000)  # about 57 middle-generation collections
    tame_collections("test", histogram)
    tamed = _full_collections_while_keeping(400_000)
    assert untamed >= 1
    assert tamed == 0
    assert gc.get_freeze_count() > 0
    assert _count(histogram, "0") > 0  # its collections are observed
