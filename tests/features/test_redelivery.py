"""The rows a redelivery is scored with: kept exactly, and only as many as redeliveries need."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from features.redelivery import RememberedRows, RowMemory

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
    rows = RememberedRows(b"", RowMemory())
    rows.remember("e1", row, attrs)
    recalled = RememberedRows(rows.encode(), RowMemory()).recall("e1", row)
    assert recalled is not None
    again, again_attrs = recalled
    assert list(again) == list(row)
    assert all(_same(again[k], row[k]) for k in row)
    assert again_attrs == attrs


def test_rows_are_kept_for_the_memory_s_time_however_many_then_pruned_on_the_next_write() -> None:
    """A replay scores a customer's months of orders within the seconds a redelivery can reach
    back: every row of that time is kept; older ones go when the customer is written again."""
    now = [1_000_000.0]
    memory = RowMemory(keep_s=900, most=256, clock=lambda: now[0])
    rows = RememberedRows(b"", memory)
    for i in range(100):
        rows.remember(f"event-{i}", {"x": float(i)}, {})
    kept = RememberedRows(rows.encode(), memory)
    assert all(kept.recall(f"event-{i}", {"x": 0.0}) for i in range(100))
    now[0] += 901
    kept.remember("later", {"x": 1.0}, {})
    written = RememberedRows(kept.encode(), memory)
    assert written.recall("later", {"x": 0.0}) is not None
    assert not any(written.recall(f"event-{i}", {"x": 0.0}) for i in range(100))
    assert written.recall("never-scored", {"x": 0.0}) is None


def test_at_most_the_newest_rows_are_kept_per_customer() -> None:
    memory = RowMemory(most=4)
    rows = RememberedRows(b"", memory)
    for i in range(6):
        rows.remember(f"event-{i}", {"x": 0.0}, {})
    rows = RememberedRows(rows.encode(), memory)
    assert [rows.recall(f"event-{i}", {"x": 0.0}) is not None for i in range(6)] == [False] * 2 + [
        True
    ] * 4


def test_a_row_of_another_feature_set_is_not_recalled() -> None:
    rows = RememberedRows(b"", RowMemory())
    rows.remember("e1", {"a": 1.0, "b": 2.0}, {})
    assert rows.recall("e1", {"a": 0.0}) is None
