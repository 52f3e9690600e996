"""The Grafana dashboard takes its data source as a variable and queries exported series only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.series import SERIES_NAME, exported_series

GRAFANA = Path(__file__).parents[2] / "deploy" / "grafana"
VARIABLE = {"type": "prometheus", "uid": "${datasource}"}


def _dashboard() -> dict[str, Any]:
    return json.loads((GRAFANA / "dashboards" / "returnrisk.json").read_text())  # type: ignore[no-any-return]


def _uids(node: Any) -> Iterator[str]:
    """Every `uid` inside a data source reference, wherever it is nested."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource" and isinstance(value, dict) and "uid" in value:
                yield value["uid"]
            elif key == "datasource" and isinstance(value, str):
                yield value
            yield from _uids(value)
    elif isinstance(node, list):
        for item in node:
            yield from _uids(item)


def test_the_data_source_is_a_prometheus_variable() -> None:
    dashboard = _dashboard()
    (variable,) = (v for v in dashboard["templating"]["list"] if v["name"] == "datasource")
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["datasource"] == VARIABLE, panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", VARIABLE) == VARIABLE, panel["title"]
    assert set(_uids(dashboard)) == {"${datasource}"}


def test_every_query_names_a_series_the_worker_exports() -> None:
    exported = exported_series()
    for panel in _dashboard()["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = set(SERIES_NAME.findall(target["expr"]))
            assert names, (panel["title"], target["expr"])
            assert names <= exported, (panel["title"], names - exported)


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    panels = _dashboard()["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells = [
        (panel["gridPos"]["x"] + dx, panel["gridPos"]["y"] + dy)
        for panel in panels
        for dx in range(panel["gridPos"]["w"])
        for dy in range(panel["gridPos"]["h"])
    ]
    assert len(cells) == len(set(cells))
    assert all(panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24 for panel in panels)


def test_provisioning_loads_the_dashboard_from_where_compose_mounts_it() -> None:
    (datasource,) = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    assert datasource["type"] == "prometheus" and datasource["isDefault"] is True
    assert datasource["url"] == "http://prometheus:9090"  # the compose service
    (provider,) = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "returnrisk.yml").read_text()
    )["providers"]
    compose = yaml.safe_load((GRAFANA.parents[1] / "docker-compose.yml").read_text())
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["grafana"]["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
