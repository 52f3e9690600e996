"""Fuzzing what the worker does with each input record (issue #23, item 4): `decode_event`, and
`dead_letter` for what it rejects. Whatever the bytes, decoding gives an event or raises
`EventValidationError` (nothing else escapes), and a rejected record becomes one dead letter
that names a reason, fits in one record of the worker's producer, and carries the record (or,
past that size, its first bytes). Memory does not grow with the records rejected.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import DeadLetter, EventValidationError, decode_event, encode_event
from schemas.codec import (
    DEAD_LETTER_KEY_BYTES,
    DEAD_LETTER_MAX_BYTES,
    ERROR_KINDS,
    MAX_FIELD_ERRORS,
    dead_letter,
)
from schemas.inputs import INPUT_EVENT_TYPES
from tests.fixtures.fuzz_records import (
    ALWAYS_INVALID,
    EDGE_VALUES,
    UNKNOWN_TYPES,
    bad_records,
    field_paths,
    huge_records,
    marker_of,
    valid_events,
    with_value,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
EVENTS = valid_events("evt-fuzz")
FIELDS = [(event, path) for event in EVENTS for path in field_paths(event)]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reject(raw: bytes, key: bytes | None = b"cust-1") -> tuple[EventValidationError, DeadLetter]:
    """What the worker does with a bad record; fails the test if the record decodes."""
    with pytest.raises(EventValidationError) as caught:
        decode_event(raw)
    letter = dead_letter(
        raw, caught.value, step="scorer", topic="orders", partition=2, offset=9, key=key,
        failed_at=NOW,
    )  # fmt: skip
    return caught.value, letter


def assert_a_whole_letter(raw: bytes, letter: DeadLetter) -> DeadLetter:
    """One reason at least, every error of a known kind, and the letter as the topic gets it:
    a valid contract within the producer's size that gives the record back (its first bytes
    when it is too large to carry whole)."""
    encoded = encode_event(letter)
    assert len(encoded) <= DEAD_LETTER_MAX_BYTES
    back = DeadLetter.model_validate_json(encoded)
    assert back.error.strip() and back.errors
    assert all(e.field and e.message for e in back.errors)
    assert len(back.errors) <= MAX_FIELD_ERRORS
    if back.payload_truncated:
        assert raw.startswith(back.original_bytes()) and len(back.original_bytes()) < len(raw)
    else:
        assert back.original_bytes() == raw
    return back


def decode_or_reject(raw: bytes) -> DeadLetter | None:
    """None if the record is an event, else its dead letter (checked whole)."""
    try:
        decode_event(raw)
    except EventValidationError as exc:
        assert exc.errors and all(e.kind in ERROR_KINDS for e in exc.errors)
        letter = dead_letter(
            raw, exc, step="scorer", topic="orders", partition=0, offset=0, key=None,
            failed_at=NOW,
        )  # fmt: skip
        return assert_a_whole_letter(raw, letter)
    return None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
edge_values = st.sampled_from(EDGE_VALUES) | json_values


@FUZZ
@given(st.binary(max_size=2_000))
def test_any_bytes_give_an_event_or_one_whole_dead_letter(raw: bytes) -> None:
    decode_or_reject(raw)


@FUZZ
@given(json_values)
def test_json_that_is_not_an_object_is_rejected_as_such(value: Any) -> None:
    raw = json.dumps(value).encode()
    letter = decode_or_reject(raw)
    if not isinstance(value, dict):
        assert letter is not None
        with pytest.raises(EventValidationError) as caught:
            decode_event(raw)
        assert [e.kind for e in caught.value.errors] == ["not-an-object"]


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(sorted({k for e in EVENTS for k in e} | {"unknown"})),
        edge_values,
        max_size=8,
    ),
    st.sampled_from([*INPUT_EVENT_TYPES, *UNKNOWN_TYPES]),
)
def test_objects_of_the_wrong_shape_never_escape(fields: dict[str, Any], event_type: str) -> None:
    decode_or_reject(json.dumps({"event_type": event_type, **fields}).encode())


@FUZZ
@given(st.sampled_from(FIELDS), edge_values)
def test_an_edge_value_in_any_field_decodes_or_names_that_field(
    field: tuple[dict[str, Any], tuple[str, ...]], value: Any
) -> None:
    event, path = field
    raw = json.dumps(with_value(event, path, value)).encode()
    letter = decode_or_reject(raw)
    if letter is not None and path != ("event_type",):
        named = ".".join(path)
        assert any(e.field.startswith(named) for e in letter.errors), letter.errors


@pytest.mark.parametrize(
    ("event", "path", "value"),
    [
        pytest.param(event, path, value, id=f"{event['event_type']}-{'.'.join(path)}-{n}")
        for event in EVENTS
        for path in field_paths(event)
        if path[0] != "attributes" or len(path) == 1  # an attribute's value may be "" or -1
        for n, value in enumerate(ALWAYS_INVALID)
    ],
)
def test_values_no_contract_accepts_are_rejected_in_every_field(
    event: dict[str, Any], path: tuple[str, ...], value: Any
) -> None:
    """`ALWAYS_INVALID` is bad for every field (the seeded records count on it): rejected, with
    that field named."""
    _, letter = reject(json.dumps(with_value(event, path, value)).encode())
    named = ".".join(path)
    assert any(e.field.startswith(named) for e in letter.errors), letter.errors


@pytest.mark.parametrize(
    "moment",
    [
        "9999-12-31T23:59:59-23:59",  # no UTC time: once an OverflowError that stopped the worker
        "0001-01-01T00:00:00+23:59",
        "0000-01-01T00:00:00Z",
        "2025-02-30T00:00:00Z",
        "2025-01-01T00:00:00",
        "2025-01-01T24:00:01Z",
        "1e308",
        "",
    ],
)
@pytest.mark.parametrize("field", ["occurred_at", "signup_at"])
def test_timestamps_past_the_calendar_are_bad_timestamps(moment: str, field: str) -> None:
    profile = EVENTS[4]
    exc, _ = reject(json.dumps({**profile, field: moment}).encode())
    assert [(e.field, e.kind) for e in exc.errors] == [(field, "bad-timestamp")]


def test_the_calendar_s_own_ends_in_utc_are_valid() -> None:
    for moment in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0001-01-01T23:58:00+23:58"):
        assert decode_event(json.dumps({**EVENTS[0], "occurred_at": moment})).occurred_at


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_an_attribute_is_never_nan_or_infinite(value: float) -> None:
    """Python's json writes them (NaN, Infinity); no JSON has them, and the event written back
    would carry null, which the contract refuses."""
    exc, _ = reject(json.dumps({**EVENTS[4], "attributes": {"ltv": value}}).encode())
    assert {e.field.split(".")[:2] == ["attributes", "ltv"] for e in exc.errors} == {True}


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b'{"event_type":"order_placed","lines":' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        b'{"event_type":"order_placed","event_id":' + b"9" * 100_000 + b"}",
        b'{"event_type":"order_placed","event_id":1e999999}',
        json.dumps({**EVENTS[0], "order_id": "o" * 900_000}).encode(),
        json.dumps({**EVENTS[0], "x" * 500_000: 1}).encode(),
        json.dumps({**EVENTS[0], "lines": [{}] * 10_000}).encode(),
        b"\xff" * 700_000,
        b"",
    ],
    ids=["deep-lists", "deep-objects", "deep-lines", "long-int", "huge-float", "long-id",
         "long-key", "empty-lines", "not-utf8", "empty"],
)  # fmt: skip
def test_huge_and_deep_records_give_one_whole_letter(raw: bytes) -> None:
    exc, letter = reject(raw)
    back = assert_a_whole_letter(raw, letter)
    assert len(back.error) <= 2_000
    if exc.omitted:  # cut short or not, the reason counts the errors
        count = len(exc.errors) + exc.omitted
        assert back.error.endswith((f"and {exc.omitted} more", f"({count} errors)")), back.error


def test_a_record_with_countless_faults_lists_the_first_and_counts_the_rest() -> None:
    many = {**EVENTS[0], **{f"k{i}": 0 for i in range(5_000)}}
    exc, letter = reject(json.dumps(many).encode())
    assert len(exc.errors) == MAX_FIELD_ERRORS and exc.omitted == 5_000 - MAX_FIELD_ERRORS
    assert [e.field for e in letter.errors[:2]] == ["k0", "k1"]
    assert str(exc).endswith(f"; and {exc.omitted} more")


def test_too_many_attributes_are_refused_before_their_values_are_checked() -> None:
    """Each bad value is four errors (one per type it is not): pydantic counted the entries only
    after checking every value, which took seconds and gigabytes for a megabyte of them."""
    profile = {**EVENTS[4], "attributes": {f"a{i}": [i] for i in range(20_000)}}
    exc, _ = reject(json.dumps(profile).encode())
    assert [(e.field, e.kind) for e in exc.errors] == [("attributes", "wrong-length")]
    assert "at most 64 items, not 20000" in exc.errors[0].message
    assert decode_event(json.dumps({**EVENTS[4], "attributes": {f"a{i}": i for i in range(64)}}))


@pytest.mark.parametrize(
    "record", huge_records(0)[:4], ids=["not-utf8", "lines", "keys", "attrs"]
)  # the fifth is half key: its letter carries all of its value
def test_a_record_near_the_broker_limit_keeps_what_fits_of_it(record: Any) -> None:
    """Kept whole, these letters were over the 1,000,000 bytes the worker's producer sends: its
    delivery failed at every retry and the worker stopped there for good."""
    _, letter = reject(record.value, record.key)
    back = assert_a_whole_letter(record.value, letter)
    assert back.payload_truncated
    assert len(encode_event(back)) > 0.99 * DEAD_LETTER_MAX_BYTES  # as much as fits
    assert marker_of(back.original_bytes(), None) == record.marker


@settings(max_examples=25, deadline=None)
@given(
    st.integers(DEAD_LETTER_MAX_BYTES // 2, DEAD_LETTER_MAX_BYTES + 100_000),
    st.sampled_from(["a", '"', "\x00", "\u00e9", "\U0001f600", "\\"]),
    st.booleans(),
)
def test_any_large_payload_is_cut_to_fit_and_only_when_it_must(
    size: int, char: str, binary: bool
) -> None:
    """Escapes (a quote, a NUL) and base64 make a byte cost more than one: still within the
    limit, and a cut never splits a character."""
    raw = (char * (size // len(char.encode()))).encode()  # whole characters
    if binary:
        raw = b"\xff" + raw
    letter = dead_letter(raw, "bad", step="s", topic="t", partition=0, offset=0, key=None,
                         failed_at=NOW)  # fmt: skip
    encoded = encode_event(letter)
    assert len(encoded) <= DEAD_LETTER_MAX_BYTES
    kept = letter.original_bytes()
    assert raw.startswith(kept)
    assert letter.payload_truncated == (kept != raw)
    if letter.payload_truncated:
        assert len(encoded) > DEAD_LETTER_MAX_BYTES - 10  # nothing more would have fitted
    if not binary:
        assert letter.payload_encoding == "utf-8"
        kept.decode("utf-8")


def test_a_huge_key_is_kept_to_its_first_kilobyte() -> None:
    key = b"\xff" * 50_000
    _, letter = reject(b"{}", key)
    assert letter.key == "\\xff" * DEAD_LETTER_KEY_BYTES
    assert reject(b"{}", None)[1].key is None and reject(b"{}", b"")[1].key == ""


def test_every_seeded_bad_record_is_rejected_and_its_letter_names_it() -> None:
    """The 10,000 records the worker test mixes into a log: none is a valid event, and each
    letter carries the marker of its own record."""
    for record in bad_records(seed=23, count=10_000, customers=["cust-1"]):
        raw = record.value if record.value is not None else b""  # a tombstone: empty
        _, letter = reject(raw, record.key)
        back = assert_a_whole_letter(raw, letter)
        assert marker_of(back.original_bytes(), record.key) == record.marker


def _traced_after(rounds: int, records: list[bytes]) -> int:
    for _ in range(rounds):
        for raw in records:
            try:
                decode_event(raw)
            except EventValidationError as exc:
                encode_event(
                    dead_letter(
                        raw,
                        exc,
                        step="s",
                        topic="t",
                        partition=0,
                        offset=0,
                        key=b"k",
                        failed_at=NOW,
                    )  # fmt: skip
                )
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_memory_does_not_grow_with_the_records_rejected() -> None:
    """A thousand more rejections keep nothing: a letter, an error or a record kept by anything
    on the way would show as hundreds of kilobytes."""
    records = [r.value or b"" for r in bad_records(seed=5, count=200)]
    records += [json.dumps({**EVENTS[0], **{f"k{i}": 0 for i in range(2_000)}}).encode()]
    records += [b"\xfe" * 100_000, json.dumps({**EVENTS[0], "lines": [{}] * 1_000}).encode()]
    tracemalloc.start()
    try:
        _traced_after(2, records)  # warm: caches, interned strings
        first = _traced_after(1, records)
        later = _traced_after(5, records)
    finally:
        tracemalloc.stop()
    assert later - first < 128 * 1024, f"{later - first} bytes kept after 5 more rounds"


def test_rejecting_the_costliest_records_takes_bounded_memory() -> None:
    """Peak Python memory while rejecting each record near the 1 MB limit: the attributes one
    took over 600 MB before its entries were counted first; the one with 80,000 unknown keys,
    an error each, takes the most now (about 50 MB)."""
    for record in huge_records(0):
        gc.collect()
        tracemalloc.start()
        try:
            reject(record.value, record.key)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 96 * 2**20, (record.marker, peak)
