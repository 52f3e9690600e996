"""The feature store on a real 3-primary Redis Cluster: the contract of test_store.py, unchanged,
and proof that a batch spanning every node costs one round trip per node each way."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from redis.cluster import RedisCluster
from redis.connection import AbstractConnection

from features.config import FeatureConfig
from features.redis_store import RedisFeatureStore
from features.state import apply_event
from features.store import Stored
from tests.features import test_store as contract
from tests.fixtures.typed_events import at, order

pytestmark = pytest.mark.integration

CONFIG = FeatureConfig()

# The store contract from test_store.py, run here against the cluster `store` below.
test_unknown_customers_start_empty = contract.test_unknown_customers_start_empty
test_saved_state_loads_back_with_a_new_version = (
    contract.test_saved_state_loads_back_with_a_new_version
)
test_a_stale_write_is_refused_and_reported = contract.test_a_stale_write_is_refused_and_reported
test_parity_through_the_store = contract.test_parity_through_the_store


@pytest.fixture
def cluster_client(redis_cluster_url: str) -> Iterator[RedisCluster]:
    client = RedisCluster.from_url(redis_cluster_url)
    yield client
    client.close()


@pytest.fixture
def timings() -> list[float]:
    """Seconds of each pipeline the `store` sent (its `on_round_trip`)."""
    return []


@pytest.fixture
def store(cluster_client: RedisCluster, timings: list[float]) -> Iterator[RedisFeatureStore]:
    prefix = f"rr:test:{uuid.uuid4().hex[:8]}"
    yield RedisFeatureStore(
        cluster_client, prefix=prefix, ttl_seconds=600, on_round_trip=timings.append
    )
    for key in cluster_client.scan_iter(match=f"{prefix}:*"):
        cluster_client.unlink(key)


@pytest.fixture
def writes_per_node(cluster_client: RedisCluster, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Requests written to each node ("host:port"), counted on the socket, independently of
    the store's own `round_trips`. Connections are opened first, so their handshakes do not count.
    """
    cluster_client.ping(target_nodes=RedisCluster.PRIMARIES)
    writes: Counter[str] = Counter()
    send = AbstractConnection.send_packed_command

    def counting(self: Any, command: object, check_health: bool = True) -> None:
        writes[f"{self.host}:{self.port}"] += 1
        send(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    return writes


def _place_orders(loaded: dict[str, Stored], day: int = 1) -> None:
    for customer, stored in loaded.items():
        event = order(at(day), f"{customer}-o{day}", customer=customer)
        apply_event(stored.state, event, CONFIG)


def _two_customers_in_one_slot(store: RedisFeatureStore, client: RedisCluster) -> list[str]:
    seen: dict[int, str] = {}
    for i in range(10_000):
        customer = f"c{i}"
        twin = seen.setdefault(client.keyslot(store.key(customer)), customer)
        if twin != customer:
            return [twin, customer]
    raise AssertionError("no two of 10 000 customer keys share a slot")


def _nodes_of(customers: list[str], store: RedisFeatureStore, client: RedisCluster) -> set[str]:
    return {client.get_node_from_key(store.key(customer)).name for customer in customers}


def test_a_batch_across_every_node_is_one_round_trip_per_node_each_way(
    store: RedisFeatureStore,
    cluster_client: RedisCluster,
    writes_per_node: Counter[str],
    timings: list[float],
) -> None:
    customers = [f"c{i}" for i in range(200)]
    primaries = [node.name for node in cluster_client.get_primaries()]
    assert len(primaries) == 3
    assert _nodes_of(customers, store, cluster_client) == set(primaries)
    one_each = Counter(dict.fromkeys(primaries, 1))

    loaded = store.load(customers)
    assert writes_per_node == one_each
    assert store.round_trips == 3

    writes_per_node.clear()
    _place_orders(loaded)
    assert store.save(loaded) == set()
    assert writes_per_node == one_each
    assert store.round_trips == 6
    assert len(timings) == 2  # the node round trips of one pipeline overlap: one timing each
    assert all(0 < seconds < 5 for seconds in timings)

    # The keys really are spread: every node holds some of them, per the nodes themselves.
    pattern = store.key("*")
    held = {
        node.name: sum(1 for _ in cluster_client.get_redis_connection(node).scan_iter(pattern))
        for node in cluster_client.get_primaries()
    }
    assert sum(held.values()) == len(customers)
    assert all(count > 0 for count in held.values()), held
    assert all(version.version != 0 for version in store.load(customers).values())


def test_customers_sharing_a_slot_are_judged_one_by_one(
    store: RedisFeatureStore, cluster_client: RedisCluster
) -> None:
    twin, customer = _two_customers_in_one_slot(store, cluster_client)
    # `solo` has a slot of its own and comes first, so a conflict reported by the twins' script
    # call (index 1 within that call) would be pinned on `solo` if indices were batch-wide.
    batch = ["solo", twin, customer]
    assert cluster_client.keyslot(store.key("solo")) != cluster_client.keyslot(store.key(twin))
    stale = store.load(batch)
    fresh = store.load([twin])
    _place_orders(fresh)
    assert store.save(fresh) == set()
    _place_orders(stale)
    assert store.save(stale) == {twin}
    assert {c: s.version for c, s in store.load(batch).items()} == {
        "solo": stale["solo"].version,
        twin: fresh[twin].version,
        customer: stale[customer].version,
    }


def test_a_flushed_script_is_resent_by_body(
    store: RedisFeatureStore, cluster_client: RedisCluster, writes_per_node: Counter[str]
) -> None:
    customers = [f"c{i}" for i in range(30)]
    assert len(_nodes_of(customers, store, cluster_client)) == 3
    first = store.load(customers)
    _place_orders(first)
    assert store.save(first) == set()  # sends the body: every node now knows the script
    assert cluster_client.script_flush()
    writes_per_node.clear()
    before = store.round_trips
    second = store.load(customers)
    _place_orders(second, day=2)
    assert store.save(second) == set()
    # On every node, for the load and for the save: the EVALSHAs answered NOSCRIPT, and their
    # resend by body.
    assert writes_per_node == Counter(dict.fromkeys(_nodes_of(customers, store, cluster_client), 4))
    assert store.round_trips - before == 12
    assert all(len(s.state.orders) == 2 for s in store.load(customers).values())
