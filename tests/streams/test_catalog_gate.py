"""The catalog gate: no event of a day is applied before every partition has finished the days
before it, whichever worker reads it."""

from __future__ import annotations

import math

import pytest
import redis

from features.units import DAY
from streams.catalog_gate import CatalogGate, end_of_day

D = 20_000 * DAY  # the start of some UTC day


def test_end_of_day() -> None:
    assert end_of_day(D) == end_of_day(D + DAY - 1) == D + DAY - 1
    assert end_of_day(math.inf) == math.inf and end_of_day(-math.inf) == -math.inf


@pytest.mark.integration
def test_a_worker_waits_for_the_others_partitions_and_not_for_its_own(
    redis_url: str, prefix: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    mine, theirs = CatalogGate(client, prefix=prefix), CatalogGate(client, prefix=prefix)
    # alone with every partition, a worker goes as far as its least read partition's day
    assert mine.release_limit({0: D + 5 * DAY, 1: D + 3600}, partitions=2) == D + DAY - 1
    # partition 1 belongs to another worker that has published nothing: not started
    assert mine.release_limit({0: D + 5 * DAY}, partitions=2) == -math.inf
    pipe = client.pipeline()
    theirs.queue(pipe, {1: D + 2 * DAY + 60})  # complete up to two days and a minute later
    pipe.execute()
    pipe = client.pipeline()
    mine.queue(pipe, {0: D + 5 * DAY})
    mine.read(pipe.execute()[-1])
    assert mine.release_limit({0: D + 5 * DAY}, partitions=2) == D + 3 * DAY - 1
    pipe = client.pipeline()
    theirs.queue(pipe, {1: math.inf})  # caught up
    theirs.read(pipe.execute()[-1])
    assert theirs.release_limit({1: math.inf}, partitions=2) == end_of_day(D + 5 * DAY)
    client.close()
