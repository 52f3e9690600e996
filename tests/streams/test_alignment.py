"""Event-time alignment, pure: when every topic of a partition has been read past a time."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from streams.alignment import Alignment, ConsumerOffsets, TopicPartition

TOPICS = ("orders", "returns", "touches", "customers")


def aligned() -> Alignment:
    return Alignment(TOPICS)


def offsets(
    highwaters: dict[TopicPartition, int | None],
    starts: dict[TopicPartition, int | None] | None = None,
) -> ConsumerOffsets:
    return ConsumerOffsets(highwaters, starts or {})


def test_the_slowest_topic_read_sets_the_watermark() -> None:
    alignment = aligned()
    for topic, at in zip(TOPICS, (500, 300, 100, 400), strict=True):
        alignment.observe(topic, 0, offset=9, event_time=at)
    highwaters: dict[TopicPartition, int | None] = {(topic, 0): 100 for topic in TOPICS}
    assert alignment.watermark(0, offsets(highwaters)) == 100  # nobody caught up


def test_a_topic_read_to_its_high_water_mark_stops_holding() -> None:
    alignment = aligned()
    for topic, at in zip(TOPICS, (500, 300, 100, 400), strict=True):
        alignment.observe(topic, 0, offset=9, event_time=at)
    highwaters: dict[TopicPartition, int | None] = {(topic, 0): 100 for topic in TOPICS}
    highwaters[("touches", 0)] = 10
    assert alignment.watermark(0, offsets(highwaters)) == 300
    everything_read = offsets(dict.fromkeys(highwaters, 10))
    assert alignment.watermark(0, everything_read) == math.inf


def test_an_unread_topic_holds_until_it_has_nothing_to_deliver() -> None:
    """An assigned partition that has delivered nothing holds, unless it started (its committed
    offset) at its high-water mark: faust may still be handing out a backlogged one."""
    alignment = aligned()
    alignment.track([0])
    alignment.observe("orders", 0, offset=0, event_time=500)
    others = [(topic, 0) for topic in TOPICS if topic != "orders"]
    highwaters: dict[TopicPartition, int | None] = {("orders", 0): 5} | dict.fromkeys(others, 7)
    unknown = offsets({("orders", 0): 5} | dict.fromkeys(others, None), dict.fromkeys(others, 7))
    backlog = offsets(highwaters, dict.fromkeys(others, 3))
    finished = offsets(highwaters, dict.fromkeys(others, 7))
    empty = offsets({("orders", 0): 5} | dict.fromkeys(others, 0))
    assert alignment.watermark(0, unknown) == -math.inf
    assert alignment.watermark(0, backlog) == -math.inf
    assert alignment.watermark(0, offsets(highwaters)) == -math.inf  # start unknown
    assert alignment.watermark(0, finished) == 500  # the orders topic, not caught up, holds
    assert alignment.watermark(0, empty) == 500


def test_partitions_are_aligned_separately_and_a_reset_forgets_what_was_read() -> None:
    alignment = aligned()
    for topic in TOPICS:
        alignment.observe(topic, 0, offset=0, event_time=100)
        alignment.observe(topic, 1, offset=0, event_time=900)
    highwaters = offsets({(topic, p): 50 for topic in TOPICS for p in (0, 1)})
    assert alignment.watermarks(highwaters) == {0: 100, 1: 900}
    alignment.reset()
    assert alignment.watermarks(highwaters) == {0: -math.inf, 1: -math.inf}


def test_an_invalid_record_moves_the_offset_but_not_the_time() -> None:
    alignment = aligned()
    for topic in TOPICS:
        alignment.observe(topic, 0, offset=0, event_time=100)
    alignment.observe("touches", 0, offset=1, event_time=None)
    highwaters: dict[TopicPartition, int | None] = {(topic, 0): 5 for topic in TOPICS}
    highwaters[("touches", 0)] = 2
    assert alignment.watermark(0, offsets(highwaters)) == 100  # the others still hold at 100
    read_all = dict.fromkeys(highwaters, 1) | {("touches", 0): 2}
    assert alignment.watermark(0, offsets(read_all)) == math.inf


@given(
    st.lists(st.tuples(st.sampled_from(TOPICS), st.integers(0, 10_000)), min_size=1, max_size=200),
    st.data(),
)
def test_no_event_before_the_watermark_is_unread(
    log: list[tuple[str, int]], data: st.DataObject
) -> None:
    """Each topic is in event-time order; topics are read in any interleaving. Whenever the
    watermark is w, no event before w is still unread: an order at or before w has every event
    its features count (those strictly before it)."""
    per_topic = {t: sorted(at for topic, at in log if topic == t) for t in TOPICS}
    highwaters = offsets({(t, 0): len(times) for t, times in per_topic.items()})
    alignment = aligned()
    alignment.track([0])
    read = dict.fromkeys(TOPICS, 0)
    while any(read[t] < len(per_topic[t]) for t in TOPICS):
        topic = data.draw(st.sampled_from([t for t in TOPICS if read[t] < len(per_topic[t])]))
        offset = read[topic]
        alignment.observe(topic, 0, offset, per_topic[topic][offset])
        read[topic] += 1
        mark = alignment.watermark(0, highwaters)
        unread = [at for t in TOPICS for at in per_topic[t][read[t] :]]
        assert all(at >= mark for at in unread)
    assert alignment.watermark(0, highwaters) == math.inf
