from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from schemas import decode_event, encode_event
from schemas.export import COMMITTED_DIR, export_json_schemas, json_schemas, render

EXPECTED = {
    "order_placed",
    "return_requested",
    "return_received",
    "campaign_touch",
    "customer_updated",
    "risk_score",
    "alert",
    "offer",
    "dead_letter",
}


def test_committed_schemas_are_current() -> None:
    """If this fails, run `returnrisk schemas export schemas/json` and commit the result."""
    current = json_schemas()
    assert set(current) == EXPECTED
    committed = {p.stem for p in COMMITTED_DIR.glob("*.json")}
    assert committed == EXPECTED
    for name, schema in current.items():
        assert (COMMITTED_DIR / f"{name}.json").read_text() == render(schema), name


def test_export_writes_one_file_per_event_type(tmp_path: Path) -> None:
    written = export_json_schemas(tmp_path)
    assert {p.name for p in written} == {f"{name}.json" for name in EXPECTED}
    for path in written:
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_json_schema_agrees_with_the_model_on_money() -> None:
    schema = json.loads((COMMITTED_DIR / "return_received.json").read_text())
    event = {
        "event_id": "e",
        "event_type": "return_received",
        "occurred_at": "2025-01-01T00:00:00Z",
        "customer_id": "c",
        "return_id": "r",
        "order_id": "o",
        "lines": [{"sku": "s", "quantity": 1, "condition": "worn"}],
        "refund_amount": "12.50",
    }
    jsonschema.validate(event, schema)
    canonical = json.loads(encode_event(decode_event(json.dumps(event))))
    jsonschema.validate(canonical, schema)
    event["refund_amount"] = "-12.50"
    validator = jsonschema.Draft202012Validator(schema)
    assert not validator.is_valid(event)
