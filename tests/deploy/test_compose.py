"""docker-compose.yml validates against the Compose Specification's JSON schema (a copy in this
folder, see README.md) and wires the stack together: every service that waits for another
waits for a healthcheck or a finished one-shot, and every file it mounts exists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).parents[2]
SCHEMA = Path(__file__).with_name("compose-spec.json")


def _compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def test_the_compose_file_validates_against_the_compose_schema() -> None:
    errors = [f"{e.json_path}: {e.message}" for e in _validator().iter_errors(_compose())]
    assert errors == []


def test_the_schema_rejects_an_unknown_depends_on_condition() -> None:
    compose = _compose()
    compose["services"]["worker"]["depends_on"]["model"] = {"condition": "service_finished"}
    assert not _validator().is_valid(compose)


def test_the_whole_stack_is_there() -> None:
    services = _compose()["services"]
    assert {"kafka", "redis", "topics", "model", "worker", "prometheus", "grafana"} <= set(services)
    assert services["worker"]["command"] == ["worker"]
    assert services["topics"]["command"] == ["dev", "up"]


def test_services_wait_for_health_or_completion() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        for needed, condition in service.get("depends_on", {}).items():
            wanted = condition["condition"]
            assert wanted in ("service_healthy", "service_completed_successfully"), name
            if wanted == "service_healthy":
                assert "healthcheck" in services[needed], needed
            else:
                assert services[needed].get("restart") == "no", needed


def test_the_worker_is_reachable_and_reads_the_promoted_model() -> None:
    services = _compose()["services"]
    worker = services["worker"]
    environment = worker["environment"]
    assert environment["RETURNRISK_WORKER_METRICS_HOST"] == "0.0.0.0"  # noqa: S104
    assert "/ready" in " ".join(worker["healthcheck"]["test"])
    assert environment["RETURNRISK_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
    assert (
        "INTERNAL://kafka:19092" in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    )
    registry = "registry:/models/registry"
    assert f"{registry}:ro" in worker["volumes"] and registry in services["model"]["volumes"]


@pytest.mark.parametrize("service", ["prometheus", "grafana"])
def test_every_mounted_file_exists(service: str) -> None:
    for volume in _compose()["services"][service]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (REPO / source).exists(), volume
