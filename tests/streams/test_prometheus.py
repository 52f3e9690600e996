"""A real Prometheus server (Debian's `prometheus`) scrapes the worker and sees its series."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from producer.send import produce_file
from streams import metrics  # noqa: F401 - registers the worker's series
from streams.settings import KafkaSettings, TopicSettings
from tests.fixtures.infra import free_port
from tests.fixtures.models import TrainedRegistry
from tests.fixtures.worker import WorkerProcess

pytestmark = pytest.mark.integration

SERIES = (
    "returnrisk_events_total",
    "returnrisk_batch_size_bucket",
    "returnrisk_batch_processing_seconds_bucket",
    "returnrisk_pipeline_batch_seconds_bucket",
    "returnrisk_end_to_end_latency_seconds_bucket",
    "returnrisk_redis_round_trip_seconds_bucket",
    "returnrisk_scores_total",
    "returnrisk_model_info",
    "returnrisk_model_reloads_total",
    "returnrisk_last_batch_timestamp_seconds",
    "returnrisk_held_events",
    "returnrisk_gc_pause_seconds_bucket",
    "returnrisk_pipeline_gc_pause_seconds_bucket",
    "returnrisk_pipeline_process_cpu_seconds_total",
)
DEPLOY = Path(__file__).parents[2] / "deploy"


def _get(url: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_the_shipped_prometheus_config_and_alert_rules_are_valid() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "no promtool on PATH: `make test` unpacks Debian's package"
    checked = subprocess.run(
        [promtool, "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr


def _exported() -> set[str]:
    """Every series name the worker's metrics give, with its type's suffixes."""
    suffixes = {
        "counter": ["_total"],
        "histogram": ["_bucket", "_sum", "_count"],
        "info": ["_info"],
    }
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        if family.name.startswith("returnrisk_")
        for suffix in suffixes.get(family.type, [""])
    }


def test_every_alert_rule_names_a_series_the_worker_exports() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exported = _exported()
    for rule in (rule for group in rules["groups"] for rule in group["rules"]):
        names = set(re.findall(r"returnrisk_[a-z_]+", rule["expr"]))
        assert names <= exported, (rule["alert"], names - exported)


def test_every_dashboard_query_names_a_series_the_worker_exports() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "returnrisk.json").read_text())
    exported = _exported()
    assert exported >= set(SERIES)
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = set(re.findall(r"returnrisk_[a-z_]+", target["expr"]))
            assert names <= exported, (panel["title"], names - exported)


def test_prometheus_scrapes_the_worker_series(
    worker: WorkerProcess,
    worker_env: dict[str, str],
    kafka_settings: KafkaSettings,
    fresh_topics: TopicSettings,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    binary = shutil.which("prometheus")
    assert binary, (
        "no prometheus on PATH: `make test` unpacks Debian's package into .returnrisk/tools"
    )
    worker.start()
    produce_file(trained_registry.log, kafka_settings, fresh_topics)
    target = f"127.0.0.1:{worker_env['RETURNRISK_WORKER_METRICS_PORT']}"
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: returnrisk-worker\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = free_port()
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    try:
        api = f"http://127.0.0.1:{port}/api/v1"
        seen: set[str] = set()
        deadline = time.monotonic() + 90
        while not seen >= set(SERIES) and time.monotonic() < deadline:
            worker.check_alive()
            time.sleep(1)
            try:
                seen = set(_get(f"{api}/label/__name__/values")["data"])
            except OSError:
                continue
        assert seen >= set(SERIES), sorted(set(SERIES) - seen)
        query = urllib.parse.quote('sum(returnrisk_events_total{outcome="ok"})')
        result = _get(f"{api}/query?query={query}")["data"]["result"]
        assert result and float(result[0]["value"][1]) > 0
        faust_started, pipeline_started = (
            float(_get(f"{api}/query?query={name}")["data"]["result"][0]["value"][1])
            for name in (
                "process_start_time_seconds",
                "returnrisk_pipeline_process_start_time_seconds",
            )
        )
        # the pipeline's series describe its own process, started after faust's
        assert pipeline_started > faust_started
        up = _get(f"{api}/query?query=up")["data"]["result"]
        assert [r["value"][1] for r in up] == ["1"]
    finally:
        server.terminate()
        server.wait(timeout=20)
