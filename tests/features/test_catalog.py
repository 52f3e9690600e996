"""The catalog: products', categories' and the shop's daily counts, shared by every customer."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.batch import process_batch
from features.catalog import (
    ALL,
    RETURNED,
    SOLD,
    Catalog,
    CatalogDelta,
    CatalogEntry,
    product_key,
)
from features.config import FeatureConfig
from features.redis_store import RedisFeatureStore
from features.replay import replay_orders
from features.state import CustomerState, Outcome, apply_event, short_hash
from features.store import MemoryFeatureStore
from features.vector import feature_values
from tests.fixtures.histories import random_history
from tests.fixtures.typed_events import at, line, order, return_request, touch

CONFIG = FeatureConfig()
GRACE = CONFIG.grace_days

deltas_strategy = st.lists(
    st.tuples(
        st.sampled_from(["p:1", "p:2", ALL]),
        st.integers(min_value=0, max_value=40),
        st.sampled_from([SOLD, RETURNED]),
        st.integers(min_value=1, max_value=5),
    ).map(lambda t: CatalogDelta(*t)),
    max_size=60,
)


def _python_catalog(batches: list[list[CatalogDelta]]) -> Catalog:
    catalog = Catalog()
    for batch in batches:
        catalog.apply(batch, GRACE)
    return catalog


@given(st.lists(deltas_strategy, min_size=1, max_size=4))
@settings(max_examples=30, deadline=None)
def test_folding_keeps_every_count_and_reads_exactly_after_the_folded_days(
    batches: list[list[CatalogDelta]],
) -> None:
    catalog = _python_catalog(batches)
    everything = [d for batch in batches for d in batch]
    for key in ("p:1", "p:2", ALL):
        entry = catalog.entry(key) or CatalogEntry()
        for counter in (SOLD, RETURNED):
            mine = [d for d in everything if d.key == key and d.counter == counter]
            assert entry.before(10**6, counter) == sum(d.amount for d in mine)  # nothing lost
            for day in range(entry.folded + 1, 45):  # any day later than the folded ones
                expected = sum(d.amount for d in mine if d.day < day)
                assert entry.before(day, counter) == expected
        assert len(entry.days) <= GRACE + 1  # bounded: a few days' fields per entry


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.mark.integration
@given(batches=st.lists(deltas_strategy, min_size=1, max_size=4))
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_redis_counts_and_folds_as_the_python_rule_does(
    client: redis.Redis, prefix: str, batches: list[list[CatalogDelta]]
) -> None:
    """The Lua in the compare-and-set and the Python of the offline replay: same fields."""
    store = RedisFeatureStore(client, prefix=f"{prefix}:{id(batches)}", grace_days=GRACE)
    for number, batch in enumerate(batches):
        customer = f"c{number}"
        stored = store.load([customer])[customer]
        apply_event(stored.state, touch(at(number), "email", customer=customer), CONFIG)
        assert store.save({customer: stored}, {customer: batch}) == set()
    expected = _python_catalog(batches)
    loaded = store.load_catalog(["p:1", "p:2", ALL])
    for key, entry in loaded.items():
        assert entry.fields() == (expected.entry(key) or CatalogEntry()).fields()
    for key in client.scan_iter(f"{prefix}:{id(batches)}:*"):
        client.unlink(key)


def test_a_lost_compare_and_set_writes_no_deltas() -> None:
    store = MemoryFeatureStore()
    mine, theirs = store.load(["c1"])["c1"], store.load(["c1"])["c1"]
    apply_event(theirs.state, touch(at(0), "sms"), CONFIG)
    assert store.save({"c1": theirs}) == set()
    delta = CatalogDelta("p:1", 3, SOLD)
    assert store.save({"c1": mine}, {"c1": [delta]}) == {"c1"}
    assert store.load_catalog(["p:1"])["p:1"].before(10, SOLD) == 0


def _shop(customers: int = 6) -> list:  # type: ignore[type-arg]
    """Customers buying mug and lamp; most lamps go back."""
    events = []
    for n in range(customers):
        c = f"c{n}"
        events.append(
            order(at(n), f"o{n}", line("mug-1", "10.00"), line("lamp-1", "30.00"), customer=c)
        )
        if n % 3:
            events.append(
                return_request(at(n, hours=5), f"o{n}", ("lamp-1", 1, "other"), customer=c)
            )
    events.append(order(at(20), "late", line("lamp-1", "30.00"), customer="new"))
    events.append(order(at(20, hours=1), "mugs", line("mug-1", "10.00"), customer="new2"))
    return sorted(events, key=lambda e: e.occurred_at)


def test_product_rates_read_every_customers_earlier_days_smoothed_to_the_shop() -> None:
    rows = {o.order_id: v for o, v, _ in replay_orders(_shop(), CONFIG)}
    shop_sold, shop_returned = 12, 4  # 6 orders x 2 products; 4 lamp returns
    shop = shop_returned / shop_sold
    weight = CONFIG.product_rate_prior_weight
    lamp = (4 + weight * shop) / (6 + weight)
    mug = (0 + weight * shop) / (6 + weight)
    assert rows["late"]["product_return_rate_max"] == pytest.approx(lamp)
    assert rows["mugs"]["product_return_rate_max"] == pytest.approx(mug)
    assert rows["late"]["product_return_chance"] == pytest.approx(lamp)
    assert rows["late"]["products_new_share"] == 0.0
    first = rows["o0"]  # the shop had sold nothing before day 0: missing, not zero
    assert math.isnan(first["product_return_rate_mean"]) and math.isnan(first["products_new_share"])
    # the day's own events never count: o1 (day 1) reads day 0 only
    assert rows["o1"]["product_return_rate_max"] == pytest.approx((0 + weight * 0) / (1 + weight))


def test_a_redelivered_order_or_request_adds_nothing_to_the_catalog() -> None:
    store = MemoryFeatureStore()
    events = _shop(3)
    process_batch(store, events, CONFIG)
    process_batch(store, events, CONFIG)  # everything again
    entry = store.load_catalog([product_key(short_hash("lamp-product"))])
    lamp = next(iter(entry.values()))
    assert lamp.before(10**6, SOLD) == 4 and lamp.before(10**6, RETURNED) == 2


def test_kinds_a_retailer_never_sends_are_missing_not_zero() -> None:
    events = [order(at(0), "o1"), order(at(2), "o2")]
    rows = {o.order_id: v for o, v, _ in replay_orders(events, CONFIG)}
    assert math.isnan(rows["o2"]["touch_clicks_email_count_7d"])
    assert math.isnan(rows["o2"]["received_worn_count_365d"])
    with_touch = [touch(at(0), "email", customer="someone-else"), *events]
    rows = {o.order_id: v for o, v, _ in replay_orders(with_touch, CONFIG)}
    assert rows["o2"]["touch_clicks_email_count_7d"] == 0.0  # a shop that sends touches: zero


def test_order_level_return_history() -> None:
    state = CustomerState()
    for event in (
        order(at(0), "o1", line("a-1")),
        order(at(1), "o2", line("b-1")),
        return_request(at(5), "o1", ("a-1", 1, "other")),
        order(at(40), "o3", line("c-1")),
    ):
        assert apply_event(state, event, CONFIG) is Outcome.APPLIED
    values = feature_values(state, order(at(45), "o4", line("a-1")), CONFIG)
    assert values["returned_orders_count_365d"] == 1.0
    prior, weight = CONFIG.return_rate_prior, CONFIG.order_return_prior_weight
    assert values["returned_orders_rate_365d"] == pytest.approx((1 + weight * prior) / (2 + weight))
    assert values["days_since_last_return"] == pytest.approx(40.0)
    assert values["products_bought_before_share"] == 1.0  # a-1 bought 45 days before: in window
    before = feature_values(state, order(at(4), "o0", line("a-1")), CONFIG)
    assert before["returned_orders_count_365d"] == 0.0  # the request came later
    assert math.isnan(before["days_since_last_return"])


def test_a_basket_of_products_bought_before_is_familiar() -> None:
    state = CustomerState()
    apply_event(state, order(at(0), "o1", line("a-1", "10.00"), line("b-1", "30.00")), CONFIG)
    values = feature_values(
        state, order(at(10), "o2", line("a-1", "10.00"), line("z-1", "30.00")), CONFIG
    )
    assert values["products_bought_before_share"] == pytest.approx(0.25)  # value-weighted


def test_every_value_is_a_float_a_string_or_none() -> None:
    """An int where a float belongs hashes differently (`vector_hash`) once a remembered row
    comes back as floats: a redelivery would get another feature hash."""
    for _, values, _ in replay_orders(random_history(customers=20, days=60, seed=3), CONFIG):
        odd = {k: v for k, v in values.items() if not (v is None or isinstance(v, float | str))}
        assert not odd
