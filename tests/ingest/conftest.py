"""Fixtures for the importer's tests: the packaged mapping and `import_files`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingest.mapping import Mapping, load_mapping
from ingest.run import run_import
from tests.ingest.helpers import Importer


@pytest.fixture(scope="session")
def retail_mapping() -> Mapping:
    return load_mapping("online_retail_ii")


@pytest.fixture
def import_files(tmp_path: Path, retail_mapping: Mapping) -> Importer:
    """Import files into tmp_path: (summary, events, log path, rejects path)."""
    counter = iter(range(1_000))

    def run(*files: Path, mapping: Mapping | None = None) -> Any:
        n = next(counter)
        log, rejects = tmp_path / f"events{n}.jsonl", tmp_path / f"rejects{n}.csv"
        summary = run_import(list(files), mapping or retail_mapping, log, rejects)
        events = [json.loads(line) for line in log.read_text().splitlines()]
        return summary, events, log, rejects

    return run
