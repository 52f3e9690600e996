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
