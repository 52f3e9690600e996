"""`schemas.log_check`: every line of an event log counted as an event, a bad line or a blank one,
bad lines grouped by the kind of their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.codec import ERROR_KINDS, EventValidationError, decode_event
from schemas.log_check import UNKNOWN_TYPE, BadLine, check_lines, check_log
from tests.fixtures.bad_log import EXPECTED_KINDS, VALID_BY_TYPE, write_bad_log
from tests.fixtures.events import EventFactory


def test_the_twelve_bad_lines_are_each_found_with_their_kind(tmp_path: Path) -> None:
    report = check_log(write_bad_log(tmp_path / "bad.jsonl"))

    assert (report.lines, report.events, report.bad, report.blank) == (17, 4, 12, 1)
    assert not report.ok
    assert dict(report.events_by_type) == VALID_BY_TYPE
    found = {bad.line_no: bad.kinds for listed in report.bad_by_kind.values() for bad in listed}
    assert found == {line_no: (kind,) for line_no, kind in EXPECTED_KINDS.items()}
    assert report.bad_count_by_kind["not-json"] == 2
    assert report.first_bad is not None and report.first_bad.line_no == 2
    # lines 4 (order_shipped) and 11 ({}) name no input type, 2 and 12 are no JSON
    assert report.bad_by_type == {"order_placed": 8, UNKNOWN_TYPE: 4}


def test_every_kind_is_explained(tmp_path: Path) -> None:
    report = check_log(write_bad_log(tmp_path / "bad.jsonl"))
    assert set(report.bad_count_by_kind) <= set(ERROR_KINDS)


def test_blank_lines_are_counted_not_errors() -> None:
    factory = EventFactory()
    report = check_lines([factory.line(factory.order()), b"\n", b"   \r\n", b""])
    assert report.ok and (report.lines, report.events, report.blank) == (4, 1, 3)


def test_keep_bounds_the_lines_listed_not_the_counts() -> None:
    report = check_lines([b"nope\n"] * 30, keep=5)
    assert report.bad == 30 and report.bad_count_by_kind == {"not-json": 30}
    assert [bad.line_no for bad in report.bad_by_kind["not-json"]] == [1, 2, 3, 4, 5]
    assert len(check_lines([b"nope\n"] * 30).bad_by_kind["not-json"]) == 30


def test_a_line_with_two_faults_is_listed_under_both_kinds() -> None:
    order = EventFactory().order(currency="euro")
    del order["order_id"]
    report = check_lines([json.dumps(order).encode()])
    assert report.bad == 1 and report.bad_count_by_kind.total() == 2
    assert report.bad_by_kind["missing-field"] == report.bad_by_kind["wrong-format"]


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"[1, 2]", "not-an-object"),
        (b'"order_placed"', "not-an-object"),
        (b"\xff\xfe garbage", "not-json"),
        (b'{"event_type": 7}', "unknown-event-type"),
    ],
)
def test_records_of_no_event_have_their_kind(raw: bytes, kind: str) -> None:
    with pytest.raises(EventValidationError) as caught:
        decode_event(raw)
    assert [error.kind for error in caught.value.errors] == [kind]


def test_a_bad_line_reads_as_the_producer_prints_it() -> None:
    report = check_lines([b"", b"{}"])
    (bad,) = report.bad_by_kind["missing-event-type"]
    assert isinstance(bad, BadLine)
    assert str(bad).startswith("line 2: field 'event_type': required field is missing")
