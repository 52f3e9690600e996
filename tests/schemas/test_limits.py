"""Size limits admit real wholesale orders and still stop abusive ones, at the contract and
through the worker's whole path (validate, features in Redis, score, decide)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import redis

from features.config import FeatureConfig
from features.redis_store import RedisFeatureStore
from models.inference import ScoringModel
from schemas import DeadLetter, EventValidationError, RiskScore, decode_event
from schemas.common import MAX_LINES, MAX_QUANTITY, MONEY_MAX
from schemas.export import COMMITTED_DIR
from streams.alignment import Alignment, ConsumerOffsets
from streams.held import HeldEvents
from streams.micro_batch import ConsumerProgress, InputRecord, ScoringPipeline
from streams.settings import TopicSettings
from tests.fixtures.events import EventFactory
from tests.fixtures.models import TrainedRegistry

TOPICS = TopicSettings()
REAL_YEAR = Path(__file__).resolve().parents[3] / "shared/data/online_retail_ii_2009_2010.csv.gz"


def wholesale_order(factory: EventFactory, lines: int, quantity: int = 24, **fields: Any) -> dict:
    """An order shaped like a gift wholesaler's: many distinct stock codes at a few pounds."""
    return factory.order(
        currency="GBP",
        shipping_country="GB",
        payment_method="bank_transfer",
        lines=[
            {
                "sku": f"{84000 + i}A",
                "product_id": f"{84000 + i}",
                "category": "homeware",
                "unit_price": f"{1 + i % 7}.{i % 100:02d}",
                "quantity": quantity,
            }
            for i in range(lines)
        ],
        **fields,
    )


def field_errors(event: dict) -> dict[str, str]:
    with pytest.raises(EventValidationError) as caught:
        decode_event(json.dumps(event))
    return {e.field: e.message for e in caught.value.errors}


def test_a_thousand_line_order_and_a_hundred_thousand_units_are_valid() -> None:
    factory = EventFactory()
    assert len(decode_event(json.dumps(wholesale_order(factory, 1_000))).lines) == 1_000
    bulk = decode_event(json.dumps(wholesale_order(factory, 1, quantity=100_000)))
    assert bulk.lines[0].quantity == 100_000
    returned = factory.return_requested(
        lines=[
            {"sku": f"{84000 + i}A", "quantity": 24, "reason_code": "damaged"} for i in range(1_000)
        ]
    )
    assert len(decode_event(json.dumps(returned)).lines) == 1_000


def test_the_json_schema_agrees_on_the_limits() -> None:
    schema = json.loads((COMMITTED_DIR / "order_placed.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    factory = EventFactory()
    assert validator.is_valid(wholesale_order(factory, 1_000, quantity=100_000))
    assert not validator.is_valid(wholesale_order(factory, MAX_LINES + 1))
    assert not validator.is_valid(wholesale_order(factory, 1, quantity=MAX_QUANTITY + 1))


def test_each_limit_rejects_what_is_over_it_and_names_the_field() -> None:
    factory = EventFactory()
    assert "lines" in field_errors(wholesale_order(factory, MAX_LINES + 1))
    over = field_errors(wholesale_order(factory, 1, quantity=MAX_QUANTITY + 1))
    assert "less than or equal to 1000000" in over["lines.0.quantity"]
    # Each line is within limits, but the order's total is not an amount: in cents it would
    # overflow the 64-bit integers of the feature state (msgpack) and fail every retry.
    priced = wholesale_order(factory, 2, quantity=MAX_QUANTITY)
    for line in priced["lines"]:
        line["unit_price"] = "60000000"  # 6e13 a line, 1.2e14 together
    assert MONEY_MAX < Decimal("1.2e14")
    assert "order total" in field_errors(priced)["lines"]
    profile = factory.customer_updated(attributes={"note": "x" * 1_025})
    assert "at most 1024 characters" in field_errors(profile)["attributes.note.constrained-str"]


@pytest.mark.skipif(not REAL_YEAR.is_file(), reason=f"{REAL_YEAR} is not here")
def test_every_invoice_of_a_real_wholesale_year_fits_the_contract() -> None:
    """UCI Online Retail II, 2009-2010: every sale invoice as an order (its positive lines)."""
    pandas = pytest.importorskip("pandas")
    table = pandas.read_csv(REAL_YEAR, dtype=str, keep_default_na=False)
    quantity = pandas.to_numeric(table["Quantity"])
    sales = table[~table["InvoiceNo"].str.startswith(("C", "A")) & (quantity > 0)]
    largest = 0
    for invoice, lines in sales.groupby("InvoiceNo", sort=False):
        order = {
            "event_type": "order_placed",
            "event_id": f"uci-{invoice}",
            "occurred_at": lines["InvoiceDate"].iloc[0].replace(" ", "T") + "+00:00",
            "customer_id": lines["CustomerID"].iloc[0] or "guest",
            "order_id": invoice,
            "channel": "web",
            "currency": "GBP",
            "payment_method": "other",
            "shipping_country": "GB",
            "lines": [
                {
                    "sku": sku,
                    "product_id": sku,
                    "category": "homeware",
                    "unit_price": str(Decimal(price)),
                    "quantity": int(units),
                }
                for sku, price, units in zip(
                    lines["StockCode"], lines["UnitPrice"], lines["Quantity"], strict=True
                )
            ],
        }
        largest = max(largest, len(decode_event(json.dumps(order)).lines))
    assert largest > 500  # the old limit: this year has orders it dead-lettered


# Through the worker's batch logic, against a real Redis -----------------------------------


@pytest.mark.integration
def test_wholesale_orders_are_scored_and_abusive_ones_dead_lettered(
    trained_registry: TrainedRegistry, redis_url: str, prefix: str
) -> None:
    model = ScoringModel.load(trained_registry.registry.path(trained_registry.versions[0]))
    client = redis.Redis.from_url(redis_url)
    pipeline = ScoringPipeline(
        RedisFeatureStore(client, prefix=prefix),
        lambda: model,
        TOPICS,
        FeatureConfig(),
        HeldEvents(client, prefix=prefix),
        Alignment(TOPICS.inputs),
    )
    factory = EventFactory()
    big = wholesale_order(factory, 1_000, customer_id="wholesaler", order_id="inv-1")
    bulk = wholesale_order(factory, 1, quantity=100_000, customer_id="wholesaler", order_id="i2")
    returned = factory.return_requested(
        customer_id="wholesaler",
        order_id="inv-1",
        lines=[
            {"sku": line["sku"], "quantity": 24, "reason_code": "damaged"} for line in big["lines"]
        ],
    )
    too_long = wholesale_order(factory, MAX_LINES + 1, customer_id="abuser", order_id="x1")
    too_many = wholesale_order(factory, 1, quantity=MAX_QUANTITY + 1, customer_id="abuser")
    events = [big, bulk, returned, too_long, too_many]
    records = [
        InputRecord(TOPICS.for_event_type(e["event_type"]), 0, offset, b"k", json.dumps(e).encode())
        for offset, e in enumerate(events)
    ]
    caught_up = ConsumerOffsets(
        {(topic, 0): 0 for topic in TOPICS.inputs}, {}
    )  # nothing to wait for
    outputs = pipeline.handle(records, ConsumerProgress(0, caught_up)).records

    scores = [RiskScore.model_validate_json(r.value) for r in outputs if r.topic == TOPICS.scores]
    assert {s.source_event_id for s in scores} == {
        big["event_id"],
        bulk["event_id"],
        returned["event_id"],
    }
    assert all(0 <= s.probability <= 1 for s in scores)
    letters = [DeadLetter.model_validate_json(r.value) for r in outputs if r.topic == TOPICS.dlq]
    # the 10,001-line order is over a megabyte: its letter keeps its first bytes (the worker's
    # producer sends at most 1,000,000), which name the event
    named = [re.search(r'"event_id": "([^"]+)"', letter.payload) for letter in letters]
    assert {found[1] for found in named if found} == {too_long["event_id"], too_many["event_id"]}
    assert sorted(letter.payload_truncated for letter in letters) == [False, True]
    reasons = {field.field: field.message for letter in letters for field in letter.errors}
    assert "at most 10000 items" in reasons["lines"]
    assert "less than or equal to 1000000" in reasons["lines.0.quantity"]
