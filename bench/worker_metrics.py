"""Reading a running worker's Prometheus `/metrics` (the demo's live table, the benchmark)."""

from __future__ import annotations

import urllib.request
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]
Samples = dict[str, dict[Labels, float]]
"""Sample value by sample name, then by its sorted label pairs."""


def scrape(port: int, host: str = "127.0.0.1") -> Samples:
    """Every sample the worker exports; {} while nothing serves yet."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=2) as page:  # noqa: S310 - loopback http
            text = page.read().decode()
    except OSError:
        return {}
    samples: Samples = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return dict(samples)


LATEST = frozenset({"returnrisk_last_batch_timestamp_seconds"})
"""Gauges of a moment: several workers' are combined by their latest, every other sample by
its sum (counters, histogram buckets and process CPU add up over a consumer group)."""


def combined(each: list[Samples]) -> Samples:
    """The samples of several workers of one group, as one worker's would read."""
    merged: Samples = defaultdict(dict)
    for samples in each:
        for name, values in samples.items():
            for labels, value in values.items():
                known = merged[name].get(labels)
                if known is None:
                    merged[name][labels] = value
                else:
                    merged[name][labels] = max(known, value) if name in LATEST else known + value
    return dict(merged)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of `name` over the label sets that contain `labels`."""
    return sum(
        value
        for label_set, value in samples.get(name, {}).items()
        if labels.items() <= dict(label_set).items()
    )


def events_consumed(samples: Samples) -> int:
    """Events applied (counted by outcome); an event held back for alignment counts later."""
    return int(total(samples, "returnrisk_events_total"))


def records_read(samples: Samples) -> int:
    """Records the worker has read, valid or not, applied or held."""
    return int(total(samples, "returnrisk_batch_size_sum"))


def redis_round_trips(samples: Samples) -> int:
    return int(total(samples, "returnrisk_redis_round_trip_seconds_count"))


def last_batch_at(samples: Samples) -> float:
    return total(samples, "returnrisk_last_batch_timestamp_seconds")


def cpu_seconds(samples: Samples) -> tuple[float, float]:
    """CPU seconds used so far by the worker's faust process and by its pipeline process."""
    return (
        total(samples, "process_cpu_seconds_total"),
        total(samples, "returnrisk_pipeline_process_cpu_seconds_total"),
    )
