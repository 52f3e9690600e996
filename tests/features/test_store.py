"""One contract, two stores: what the offline replay keeps in memory, the stream keeps in Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from features.codec import encode_state
from features.config import FeatureConfig
from features.parity import run_parity
from features.redis_store import RedisFeatureStore
from features.state import CustomerState, apply_event
from features.store import FeatureStore, MemoryFeatureStore
from tests.fixtures.histories import random_history
from tests.fixtures.typed_events import at, order, touch

CONFIG = FeatureConfig()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client: redis.Redis) -> Iterator[str]:
    prefix = f"rr:test:{uuid.uuid4().hex[:8]}"
    yield prefix
    for key in redis_client.scan_iter(f"{prefix}:*"):
        redis_client.unlink(key)


@pytest.fixture
def redis_store(redis_client: redis.Redis, prefix: str) -> RedisFeatureStore:
    return RedisFeatureStore(redis_client, prefix=prefix, ttl_seconds=600)


@pytest.fixture
def cached_store(redis_client: redis.Redis, prefix: str) -> RedisFeatureStore:
    """A store keeping decoded states; 10 customers, so larger tests also evict."""
    return RedisFeatureStore(redis_client, prefix=prefix, ttl_seconds=600, cache_customers=10)


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis_store", marks=pytest.mark.integration),
        pytest.param("cached_store", marks=pytest.mark.integration),
    ]
)
def store(request: pytest.FixtureRequest) -> FeatureStore:
    if request.param == "memory":
        return MemoryFeatureStore()
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_unknown_customers_start_empty(store: FeatureStore) -> None:
    loaded = store.load(["nobody", "nobody-else"])
    assert loaded["nobody"].version == 0
    assert loaded["nobody"].state == CustomerState()


def test_saved_state_loads_back_with_a_new_version(store: FeatureStore) -> None:
    stored = store.load(["c1"])["c1"]
    apply_event(stored.state, order(at(1), "o1"), CONFIG)
    apply_event(stored.state, touch(at(0), "email"), CONFIG)
    assert store.save({"c1": stored}) == set()
    again = store.load(["c1"])["c1"]
    assert again.version == stored.version != 0
    assert encode_state(again.state) == encode_state(stored.state)


def test_a_stale_write_is_refused_and_reported(store: FeatureStore) -> None:
    first, second = store.load(["c1"])["c1"], store.load(["c1"])["c1"]
    apply_event(first.state, order(at(1), "o1"), CONFIG)
    apply_event(second.state, order(at(2), "o2"), CONFIG)
    assert store.save({"c1": first}) == set()
    assert store.save({"c1": second}) == {"c1"}
    assert [o.at for o in store.load(["c1"])["c1"].state.orders] == [int(at(1).timestamp())]


@pytest.mark.parametrize("lateness_s", [0, 86_400])
def test_parity_through_the_store(store: FeatureStore, lateness_s: int) -> None:
    events = random_history(customers=25, days=90, seed=7)
    report = run_parity(
        events,
        store,
        CONFIG,
        max_lateness_s=lateness_s,
        duplicate_share=0.05,
        batch_size=50,
        seed=lateness_s,
    )
    assert report.orders_compared == sum(1 for e in events if e.event_type == "order_placed")
    assert report.mismatches == []


@pytest.mark.integration
def test_redis_batch_is_one_round_trip_each_way_and_hash_tagged(
    redis_store: RedisFeatureStore, redis_client: redis.Redis
) -> None:
    customers = [f"c{i}" for i in range(200)]
    loaded = redis_store.load(customers)
    assert redis_store.round_trips == 1
    for customer, stored in loaded.items():
        apply_event(stored.state, order(at(1), f"{customer}-o", customer=customer), CONFIG)
    assert redis_store.save(loaded) == set()
    assert redis_store.round_trips == 2
    key = redis_store.key("c7")
    assert key.endswith(":{c7}")
    assert redis_client.ttl(key) > 0
    assert (redis_store.memory_usage("c7") or 0) < 2048


def test_the_memo_is_written_and_read_with_the_state(store: FeatureStore) -> None:
    stored = store.load(["c1"])["c1"]
    stored.memo = b"\x00remembered"
    assert store.save({"c1": stored}) == set()
    assert store.load(["c1"])["c1"].memo == b"\x00remembered"


@pytest.mark.integration
def test_a_cached_state_is_neither_sent_nor_decoded_again(cached_store: RedisFeatureStore) -> None:
    stored = cached_store.load(["c1"])["c1"]
    apply_event(stored.state, order(at(1), "o1"), CONFIG)
    assert cached_store.save({"c1": stored}) == set()
    decoded = cached_store.decoded
    again = cached_store.load(["c1"])["c1"]
    assert cached_store.decoded == decoded
    assert again.version == stored.version
    assert encode_state(again.state) == encode_state(stored.state)


@pytest.mark.integration
def test_another_workers_write_replaces_the_cached_state(
    redis_client: redis.Redis, prefix: str, cached_store: RedisFeatureStore
) -> None:
    other = RedisFeatureStore(redis_client, prefix=prefix, ttl_seconds=600, cache_customers=10)
    mine = cached_store.load(["c1"])["c1"]
    apply_event(mine.state, order(at(1), "o1"), CONFIG)
    assert cached_store.save({"c1": mine}) == set()
    theirs = other.load(["c1"])["c1"]
    apply_event(theirs.state, order(at(2), "o2"), CONFIG)
    theirs.memo = b"theirs"
    assert other.save({"c1": theirs}) == set()
    seen = cached_store.load(["c1"])["c1"]
    assert seen.version == theirs.version != mine.version
    assert [o.at for o in seen.state.orders] == [int(at(1).timestamp()), int(at(2).timestamp())]
    assert seen.memo == b"theirs"


@pytest.mark.integration
def test_a_batch_that_never_wrote_leaves_no_changed_state_behind(
    cached_store: RedisFeatureStore,
) -> None:
    """A load hands the cached state out to be changed in place; if the batch then fails
    before its write, the next load must read Redis, not the half-applied state."""
    stored = cached_store.load(["c1"])["c1"]
    apply_event(stored.state, order(at(1), "o1"), CONFIG)
    assert cached_store.save({"c1": stored}) == set()
    failed = cached_store.load(["c1"])["c1"]
    apply_event(failed.state, order(at(2), "o2"), CONFIG)  # and the batch dies here
    again = cached_store.load(["c1"])["c1"]
    assert [o.at for o in again.state.orders] == [int(at(1).timestamp())]


@pytest.mark.integration
def test_the_cache_keeps_the_most_recently_written_customers(
    cached_store: RedisFeatureStore,
) -> None:
    customers = [f"c{i}" for i in range(15)]
    loaded = cached_store.load(customers)
    for customer, stored in loaded.items():
        apply_event(stored.state, order(at(1), f"{customer}-o", customer=customer), CONFIG)
    assert cached_store.save(loaded) == set()
    decoded = cached_store.decoded
    cached_store.load(customers[-10:])
    assert cached_store.decoded == decoded
    cached_store.load(customers[:5])
    assert cached_store.decoded == decoded + 5


def test_remembered_rows_are_written_and_read_with_the_state(store: FeatureStore) -> None:
    stored = store.load(["c1"])["c1"]
    stored.scored = b"\x00rows"
    assert store.save({"c1": stored}) == set()
    assert store.load(["c1"])["c1"].scored == b"\x00rows"
    stored.scored = b""
    assert store.save({"c1": stored}) == set()
    assert store.load(["c1"])["c1"].scored == b""


@pytest.mark.integration
def test_remembered_rows_expire_apart_from_the_state(
    redis_client: redis.Redis, prefix: str
) -> None:
    """A backfill's rows go by themselves minutes after a customer's last write; the state stays."""
    store = RedisFeatureStore(redis_client, prefix=prefix, ttl_seconds=600, rows_ttl_seconds=30)
    stored = store.load(["c1"])["c1"]
    apply_event(stored.state, order(at(1), "o1"), CONFIG)
    stored.scored = b"rows"
    assert store.save({"c1": stored}) == set()
    assert 0 < redis_client.ttl(store.rows_key("c1")) <= 30
    assert redis_client.ttl(store.key("c1")) > 30
    redis_client.delete(store.rows_key("c1"))  # as if it had expired
    again = store.load(["c1"])["c1"]
    assert again.scored == b"" and again.state.orders
    stored = again
    assert store.save({"c1": stored}) == set()
    assert not redis_client.exists(store.rows_key("c1"))
