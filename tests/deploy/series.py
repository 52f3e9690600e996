"""The series names the worker exports, for checking what alerts and dashboards query."""

from __future__ import annotations

import re

from prometheus_client import REGISTRY

from streams import metrics  # noqa: F401 - registers the worker's series

_SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "info": ["_info"]}


SERIES_NAME = re.compile(r"\b(?:returnrisk|process|python)_[a-z_]+")
"""What a query's series look like: the worker's own and prometheus_client's defaults."""


def exported_series() -> set[str]:
    """Every series name of the worker's registry, with its type's suffixes."""
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in _SUFFIXES.get(family.type, [""])
    }
