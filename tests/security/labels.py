"""What a Prometheus label must never be: an identifier of a customer, an order or an event.

Each distinct label value is a series kept in Prometheus for weeks, so an id as a label grows
memory without bound, and puts personal data in a system that is not meant to hold it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

ID_LABEL = re.compile(
    r"(^|_)(customer|order|event|return|score|offer|alert|product|user|session|email)(_?ids?)?$"
    r"|(^|_)ids?$",
    re.IGNORECASE,
)
"""`customer_id`, `order_id`, `event_id`, `return_id`, `score_id`, ..., `customer`, `id`."""


def id_like(names: Iterable[str]) -> list[str]:
    return sorted(name for name in names if ID_LABEL.search(name))


def ids_in(records: Iterable[bytes]) -> set[str]:
    """Every value of a `..._id` field, at any depth, of JSON records (unreadable ones skipped)."""
    found: set[str] = set()
    for record in records:
        try:
            _collect(json.loads(record), found)
        except ValueError:
            continue
    return found


def _collect(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("_id") and isinstance(item, str):
                found.add(item)
            _collect(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)


def labels_of(exposition: str) -> dict[str, set[str]]:
    """Label name -> every value it has in a /metrics page."""
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            for name, value in sample.labels.items():
                labels.setdefault(name, set()).add(value)
    return labels
