"""The rows a redelivery is scored with: kept exactly, and only as many as redeliveries need."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from features.redelivery import KEEP_ROWS, RememberedRows
from features.units import DAY

values = st.dictionaries(
    st.text(min_size=1, max_size=12),
    st.one_of(st.floats(allow_nan=True), st.none(), st.text(max_size=8)),
    min_size=1,
    max_size=40,
)
attributes = st.dictionaries(
    st.text(min_size=1, max_size=12),
    st.one_of(st.booleans(), st.integers(-(2**60), 2**60), st.floats(allow_nan=False), st.text()),
    max_size=6,
)


def _same(a: object, b: object) -> bool:
    """Equal, bit for bit where floats are concerned (NaN, -0.0)."""
    return type(a) is type(b) and repr(a) == repr(b)


@given(values, attributes)
def test_a_remembered_row_comes_back_exactly_after_encoding(
    row: dict[str, float | str | None], attrs: dict[str, str | bool | int | float]
) -> None:
    rows = RememberedRows(b"")
    rows.remember("e1", 1_000, row, attrs)
    recalled = RememberedRows(rows.encode()).recall("e1", row)
    assert recalled is not None
    again, again_attrs = recalled
    assert list(again) == list(row)
    assert all(_same(again[k], row[k]) for k in row)
    assert again_attrs == attrs


def test_the_rows_of_the_newest_scored_events_are_remembered_however_far_apart() -> None:
    """A replay covers months of event time in the seconds a redelivery can reach back."""
    rows = RememberedRows(b"")
    for i in range(KEEP_ROWS + 3):
        rows.remember(f"event-{i}", i * 90 * DAY, {"x": float(i)}, {})
    kept = RememberedRows(rows.encode())
    assert all(kept.recall(f"event-{i}", {"x": 0.0}) for i in range(3, KEEP_ROWS + 3))
    assert not any(kept.recall(f"event-{i}", {"x": 0.0}) for i in range(3))
    assert kept.recall("never-scored", {"x": 0.0}) is None


def test_a_row_of_another_feature_set_is_not_recalled() -> None:
    rows = RememberedRows(b"")
    rows.remember("e1", 0, {"a": 1.0, "b": 2.0}, {})
    assert rows.recall("e1", {"a": 0.0}) is None
