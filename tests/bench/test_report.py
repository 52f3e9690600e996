"""The bench's figures without infrastructure: latency matching, percentiles, report output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import worker_metrics
from bench.config import BenchConfig
from bench.latency import Matcher, percentiles
from bench.report import BenchReport, LatencyPhase, Throughput


def _event(event_id: str) -> bytes:
    return json.dumps({"event_id": event_id, "event_type": "order_placed"}).encode()


def _score(source: str) -> bytes:
    return json.dumps({"source_event_id": source, "score_id": f"s-{source}"}).encode()


def test_latency_pairs_each_score_with_its_source_sent_in_the_phase() -> None:
    matcher = Matcher(since_ms=1_000)
    for sent, event_id in ((900, "old"), (1_000, "e1"), (1_010, "e2")):
        matcher.add_input(sent, _event(event_id))
    assert matcher.sent_at == {"e1": 1_000, "e2": 1_010}
    for scored, source in ((950, "old"), (1_120, "e1"), (1_060, "e2")):
        matcher.add_score(scored, _score(source))
    assert sorted(matcher.latencies_ms) == [50, 120]
    assert matcher.scores_span_s == pytest.approx(0.06)  # 1,060 to 1,120 ms; "old" is not one


def _phase(**changes: float) -> LatencyPhase:
    figures: dict[str, object] = {
        "load_share": 0.5,
        "offered_rate": 5_000.0,
        "min_seconds": 60.0,
        "min_scores": 100_000,
        "events_sent": 1_200_000,
        "scored_type_events_sent": 101_000,
        "sent_seconds": 240.0,
        "scores": 101_000,
        "scores_span_s": 239.0,
        "p50_ms": 40.0,
        "p95_ms": 90.0,
        "p99_ms": 150.0,
        "max_ms": 400.0,
        "backlog_max": 700,
        "backlog_at_end": 300,
        "drain_s": 0.2,
        "tail_customers": 28_000,
        "tail_days": 365,
        "tail_start": "2026-01-01",
    }
    return LatencyPhase(**{**figures, **changes})  # type: ignore[arg-type]


def test_latency_phase_reports_offered_and_achieved_rates(tmp_path: Path) -> None:
    report = BenchReport(events=1_000, customers=10, latency=_phase())
    report.write_json(tmp_path / "bench.json")
    figures = json.loads((tmp_path / "bench.json").read_text())["latency"]
    assert figures["offered_rate"] == 5_000
    assert figures["sent_rate"] == pytest.approx(5_000)  # 1.2 M events in 240 s
    assert figures["score_rate"] == pytest.approx(101_000 / 239)
    assert (figures["scores"], figures["p99_ms"], figures["backlog_at_end"]) == (101_000, 150, 300)
    rows = dict(zip(*(c.cells for c in report.table().columns), strict=True))
    assert rows["latency: offered rate (50% of c), events/s"] == "5,000"
    assert rows["latency: scores measured"] == "101,000"
    assert rows["latency p99 (ms)"] == "150"
    assert _phase(sent_seconds=0, scores_span_s=0).sent_rate == 0.0


def test_percentiles_of_known_values() -> None:
    found = percentiles(list(range(1, 101)))
    assert (found.count, found.max_ms) == (100, 100)
    assert found.p50_ms == pytest.approx(50.5)
    assert found.p99_ms == pytest.approx(99.01)


def test_percentiles_refuse_an_empty_phase() -> None:
    with pytest.raises(ValueError, match="no score matched"):
        percentiles([])


def test_report_ratios_and_json(tmp_path: Path) -> None:
    report = BenchReport(events=1_000, customers=10)
    report.bare_aiokafka = Throughput(1_000, 0.01)
    report.faust_forward = Throughput(1_000, 0.1)
    report.pipeline = Throughput(1_000, 0.2)
    report.write_json(tmp_path / "bench.json")
    figures = json.loads((tmp_path / "bench.json").read_text())
    assert figures["pipeline"]["events_per_s"] == pytest.approx(5_000)
    assert figures["ratio_c_over_a"] == pytest.approx(0.05)
    assert figures["ratio_c_over_b"] == pytest.approx(0.5)


def test_ratios_are_absent_without_the_runs() -> None:
    report = BenchReport(events=1_000, customers=10)
    assert report.as_dict()["ratio_c_over_b"] is None
    assert Throughput(10, 0.0).events_per_s == 0.0


def test_each_run_names_its_own_topics_groups_and_keys() -> None:
    one, two = BenchConfig(), BenchConfig()
    assert one.run != two.run
    names_one = {*one.topics().model_dump().values(), one.forward_topic("a")}
    names_two = {*two.topics().model_dump().values(), two.forward_topic("a")}
    assert not names_one & names_two
    assert one.group("a") != one.group("b") and one.redis_prefix != two.redis_prefix


def test_workers_of_one_group_read_as_one() -> None:
    first = {
        "returnrisk_events_total": {(("outcome", "applied"),): 10.0},
        "returnrisk_last_batch_timestamp_seconds": {(): 100.0},
        "process_cpu_seconds_total": {(): 2.0},
    }
    second = {
        "returnrisk_events_total": {(("outcome", "applied"),): 5.0, (("outcome", "late"),): 1.0},
        "returnrisk_last_batch_timestamp_seconds": {(): 90.0},
        "process_cpu_seconds_total": {(): 3.0},
        "returnrisk_pipeline_process_cpu_seconds_total": {(): 4.0},
    }
    both = worker_metrics.combined([first, second])
    assert worker_metrics.events_consumed(both) == 16
    assert worker_metrics.last_batch_at(both) == 100.0  # the latest, not a sum
    assert worker_metrics.cpu_seconds(both) == (5.0, 4.0)
