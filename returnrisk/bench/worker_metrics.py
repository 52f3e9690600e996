"""Read the worker's Prometheus `/metrics` into totals the bench needs."""

from __future__ import annotations

import urllib.request
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[str, float]


def scrape(port: int, host: str = "127.0.0.1") -> Samples:
    """Every sample summed over its labels, by sample name; {} while nothing serves yet."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=2) as page:  # noqa: S310 - loopback http
            text = page.read().decode()
    except OSError:
        return {}
    totals: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] += sample.value
    return dict(totals)


def events_consumed(samples: Samples) -> int:
    return int(samples.get("returnrisk_events_total", 0))


def redis_round_trips(samples: Samples) -> int:
    return int(samples.get("returnrisk_redis_round_trip_seconds_count", 0))


def last_batch_at(samples: Samples) -> float:
    return samples.get("returnrisk_last_batch_timestamp_seconds", 0.0)
