"""No Prometheus metric the project defines has a label named like an id (customer_id,
order_id, event_id, return_id, score_id, ...): found in the source, wherever a metric is
defined, and in the registry the worker serves. The values a running worker gives its labels
are checked in test_secure_worker.py."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

from prometheus_client import REGISTRY

from streams import gc_pauses, metrics  # noqa: F401 - register the worker's series
from tests.security.labels import id_like

PROJECT = Path(__file__).resolve().parents[2]
METRIC_TYPES = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}


def test_the_pattern_catches_ids_and_lets_the_real_labels_through() -> None:
    assert id_like(["customer_id", "order_id", "event_id", "return_id", "score_id"]) == sorted(
        ["customer_id", "order_id", "event_id", "return_id", "score_id"]
    )
    assert id_like(["customer", "orderId", "id", "ids", "customer_ids"]) == sorted(
        ["customer", "orderId", "id", "ids", "customer_ids"]
    )
    assert id_like(["event_type", "alert_type", "offer_type", "segment", "dependency"]) == []


def test_no_metric_defined_in_the_source_has_an_id_label() -> None:
    definitions = metric_definitions()
    assert len(definitions) >= 20, definitions  # the scan finds the worker's metrics
    unreadable = [site for site, labels in definitions.items() if labels is None]
    assert unreadable == [], f"label names not written out, so not checkable: {unreadable}"
    named_like_ids = {
        site: id_like(labels) for site, labels in definitions.items() if labels and id_like(labels)
    }
    assert named_like_ids == {}


def test_no_registered_metric_has_an_id_label() -> None:
    labelled = {
        collector._name: list(collector._labelnames)  # type: ignore[attr-defined]
        for collector in list(REGISTRY._collector_to_names)
        if hasattr(collector, "_labelnames")
    }
    assert "returnrisk_events" in labelled and "returnrisk_scores" in labelled
    assert {name: id_like(labels) for name, labels in labelled.items() if id_like(labels)} == {}


def metric_definitions() -> dict[str, list[str] | None]:
    """`path:line` of every prometheus_client metric the source (not the tests) defines -> its
    label names, or None when they are not a literal list (and so cannot be checked here)."""
    found: dict[str, list[str] | None] = {}
    for path in _sources():
        tree = ast.parse(path.read_text(), str(path))
        imported = _imported_metric_types(tree)
        if not imported:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _metric_type(node.func, imported):
                found[f"{path.relative_to(PROJECT)}:{node.lineno}"] = _label_names(node)
    return found


def _sources() -> list[Path]:
    listed = subprocess.run(  # noqa: S603, S607 - git, fixed arguments
        ["git", "ls-files", "*.py"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [PROJECT / p for p in listed if not p.startswith("tests/") and (PROJECT / p).exists()]


def _imported_metric_types(tree: ast.Module) -> set[str]:
    """Names bound to prometheus_client's metric classes (`collections.Counter` is not one);
    "prometheus_client" itself when the module is imported whole."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("prometheus_client"):
            names |= {
                alias.asname or alias.name for alias in node.names if alias.name in METRIC_TYPES
            }
        elif isinstance(node, ast.Import):
            names |= {"prometheus_client" for a in node.names if a.name == "prometheus_client"}
    return names


def _metric_type(func: ast.expr, imported: set[str]) -> bool:
    if isinstance(func, ast.Name):
        return func.id in imported and func.id != "prometheus_client"
    return (
        isinstance(func, ast.Attribute)
        and func.attr in METRIC_TYPES
        and isinstance(func.value, ast.Name)
        and func.value.id == "prometheus_client"
        and "prometheus_client" in imported
    )


def _label_names(call: ast.Call) -> list[str] | None:
    given = next((k.value for k in call.keywords if k.arg == "labelnames"), None)
    if given is None and len(call.args) >= 3:
        given = call.args[2]
    if given is None:
        return []
    try:
        names = ast.literal_eval(given)
    except ValueError:
        return None
    return [str(name) for name in names]
