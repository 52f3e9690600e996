"""The Kubernetes manifests validate against the Kubernetes schema (kubernetes-validate ships
the schemas: no cluster, no network) and give the worker what a read-only root filesystem
needs: a writable volume for faust's data folder and /tmp, probes on /ready and /metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

KUBERNETES = Path(__file__).parents[2] / "deploy" / "kubernetes"
VERSION = "1.30.0"  # old enough that the clusters in use accept the manifests
VERSIONS = (VERSION, kubernetes_validate.latest_version())


def _documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, document)
        for path in sorted(KUBERNETES.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def _worker() -> dict[str, Any]:
    (deployment,) = (d for _, d in _documents() if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {"pod": deployment["spec"]["template"], "container": container}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "name, document", _documents(), ids=lambda v: v if isinstance(v, str) else v["kind"]
)
def test_each_manifest_validates_against_the_kubernetes_schema(
    name: str, document: dict[str, Any], version: str
) -> None:
    kubernetes_validate.validate(document, version, strict=True)


def test_the_validator_rejects_a_misspelt_field() -> None:
    (deployment,) = (d for _, d in _documents() if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSION, strict=True)


def test_the_worker_writes_only_to_mounted_volumes() -> None:
    worker = _worker()
    container, spec = worker["container"], worker["pod"]["spec"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {item["name"]: item["value"] for item in container["env"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    empty_dirs = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
    for path in (env["RETURNRISK_WORKER_DATA_DIR"], "/tmp"):  # noqa: S108 - numba's cache
        assert path in mounts, path
        assert mounts[path]["name"] in empty_dirs and not mounts[path].get("readOnly")


def test_probes_ask_readiness_and_metrics_on_the_served_port() -> None:
    worker = _worker()
    container = worker["container"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    (port,) = container["ports"]
    assert port["name"] == "metrics"
    (config,) = (d for _, d in _documents() if d["kind"] == "ConfigMap")
    assert config["data"]["RETURNRISK_WORKER_METRICS_HOST"] == "0.0.0.0"  # noqa: S104
    assert int(config["data"]["RETURNRISK_WORKER_METRICS_PORT"]) == port["containerPort"]
    annotations = worker["pod"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == port["containerPort"]
