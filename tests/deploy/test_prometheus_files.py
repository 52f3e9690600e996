"""promtool accepts the shipped Prometheus configs and alert rules, the rules' unit tests
(alerts_test.yml) pass, and the Kubernetes scrape config finds the manifest's worker pods."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.series import SERIES_NAME, exported_series

REPO = Path(__file__).parents[2]
PROMETHEUS = REPO / "deploy" / "prometheus"
CONFIGS = ("prometheus.yml", "compose.yml", "kubernetes.yml")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs Debian's promtool: on PATH under `make test`, else where the Makefile unpacks it."""
    binary = shutil.which("promtool") or shutil.which(
        "promtool", path=str(REPO / ".returnrisk" / "tools" / "usr" / "bin")
    )
    assert binary, "no promtool: run `make .returnrisk/tools/usr/bin/prometheus` (make test does)"
    return subprocess.run([binary, *args], capture_output=True, text=True, check=False)


def test_promtool_checks_the_alert_rules() -> None:
    checked = promtool("check", "rules", str(PROMETHEUS / "alerts.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alert_rules_pass_their_unit_tests() -> None:
    tested = promtool("test", "rules", str(Path(__file__).with_name("alerts_test.yml")))
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.parametrize("name", CONFIGS)
def test_promtool_checks_each_config(name: str, tmp_path: Path) -> None:
    config = yaml.safe_load((PROMETHEUS / name).read_text())
    assert config["rule_files"] == ["alerts.yml"]
    assert [job["job_name"] for job in config["scrape_configs"]] == ["returnrisk-worker"]
    for job in config["scrape_configs"]:
        # Debian builds Prometheus without Kubernetes discovery: check the rest of the job
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["static_configs"] = [{"targets": ["10.0.0.1:9108"]}]
    (tmp_path / name).write_text(yaml.safe_dump(config))
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    checked = promtool("check", "config", str(tmp_path / name))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_compose_config_scrapes_the_worker_service() -> None:
    config = yaml.safe_load((PROMETHEUS / "compose.yml").read_text())
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    port = compose["services"]["worker"]["environment"]["RETURNRISK_WORKER_METRICS_PORT"]
    targets = config["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"worker:{port}"]


def test_every_alert_rule_names_an_exported_series_and_has_a_summary() -> None:
    exported = exported_series()
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    for rule in (rule for group in rules["groups"] for rule in group["rules"]):
        names = set(SERIES_NAME.findall(rule["expr"]))
        assert names <= exported, (rule["alert"], names - exported)
        assert rule["annotations"]["summary"], rule["alert"]


def _relabel(labels: dict[str, str], rules: list[dict[str, Any]]) -> dict[str, str] | None:
    """Prometheus's relabelling for the actions kubernetes.yml uses (keep, replace)."""
    labels = dict(labels)
    for rule in rules:
        value = rule.get("separator", ";").join(labels.get(n, "") for n in rule["source_labels"])
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        if rule.get("action", "replace") == "keep":
            if match is None:
                return None
        elif match is not None:
            replacement = re.sub(r"\$(\d+)", r"\\\1", rule.get("replacement", "$1"))
            labels[rule["target_label"]] = match.expand(replacement)
    return labels


def test_the_kubernetes_scrape_config_finds_the_worker_pods() -> None:
    config = yaml.safe_load((PROMETHEUS / "kubernetes.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    manifest = yaml.safe_load_all((REPO / "deploy" / "kubernetes" / "worker.yaml").read_text())
    (deployment,) = (doc for doc in manifest if doc["kind"] == "Deployment")
    pod = deployment["spec"]["template"]
    (port,) = pod["spec"]["containers"][0]["ports"]

    def meta(labels: dict[str, str], annotations: dict[str, str]) -> dict[str, str]:
        found = {
            "__address__": "10.1.2.3:8080",  # as discovery gives it: the pod IP, any port
            "__metrics_path__": "/metrics",
            "__meta_kubernetes_namespace": "shop",
            "__meta_kubernetes_pod_name": "returnrisk-worker-7d9f-abcde",
        }
        for key, value in labels.items():
            found["__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] = value
        for key, value in annotations.items():
            found["__meta_kubernetes_pod_annotation_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] = value
        return found

    target = _relabel(
        meta(pod["metadata"]["labels"], pod["metadata"]["annotations"]), job["relabel_configs"]
    )
    assert target is not None
    assert target["__address__"] == f"10.1.2.3:{port['containerPort']}"
    assert target["__metrics_path__"] == pod["metadata"]["annotations"]["prometheus.io/path"]
    assert target["instance"] == "returnrisk-worker-7d9f-abcde"
    assert target["namespace"] == "shop"
    # pods that are not annotated, or are not returnrisk's, are not scraped by this job
    unannotated = {k: v for k, v in pod["metadata"]["annotations"].items() if "scrape" not in k}
    assert _relabel(meta(pod["metadata"]["labels"], unannotated), job["relabel_configs"]) is None
    other = meta({"app.kubernetes.io/name": "shop"}, pod["metadata"]["annotations"])
    assert _relabel(other, job["relabel_configs"]) is None
