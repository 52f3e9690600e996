"""The bench's figures without infrastructure: latency matching, percentiles, report output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.config import BenchConfig
from bench.latency import latencies_ms, percentiles, sent_at_by_event
from bench.report import BenchReport, Throughput


def _event(event_id: str) -> bytes:
    return json.dumps({"event_id": event_id, "event_type": "order_placed"}).encode()


def _score(source: str) -> bytes:
    return json.dumps({"source_event_id": source, "score_id": f"s-{source}"}).encode()


def test_latency_pairs_each_score_with_its_source_sent_in_the_phase() -> None:
    inputs = [(900, _event("old")), (1_000, _event("e1")), (1_010, _event("e2"))]
    sent = sent_at_by_event(inputs, since_ms=1_000)
    assert sent == {"e1": 1_000, "e2": 1_010}
    scores = [(950, _score("old")), (1_120, _score("e1")), (1_060, _score("e2"))]
    assert sorted(latencies_ms(scores, sent)) == [50, 120]


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
