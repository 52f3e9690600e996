"""JSON Schema files for every event type, for producers and consumers in other languages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.inputs import INPUT_EVENT_TYPES
from schemas.outputs import OUTPUT_EVENT_TYPES

COMMITTED_DIR = Path(__file__).parent / "json"


def json_schemas() -> dict[str, dict[str, Any]]:
    """Schema per event type: what is accepted for inputs, what is emitted for outputs."""
    schemas: dict[str, dict[str, Any]] = {}
    for name, model in INPUT_EVENT_TYPES.items():
        schemas[name] = model.model_json_schema(mode="validation")
    for name, output in OUTPUT_EVENT_TYPES.items():
        schemas[name] = output.model_json_schema(mode="serialization")
    for name, schema in schemas.items():
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://returnrisk.dev/schemas/v1/{name}.json"
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def export_json_schemas(directory: Path) -> list[Path]:
    """Write `<event_type>.json` for every event type into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = directory / f"{name}.json"
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
